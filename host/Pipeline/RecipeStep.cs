using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>One step: the plugin id and its options (null: defaults).</summary>
public sealed record RecipeStep(string Plugin, JObject? Options);
