using Newtonsoft.Json.Linq;

namespace Compressor.Host.Commands;

/// <summary><c>compress plugin describe ID --format json</c>: the manifest, every option, and the JSON schema of the
/// plugin's options in a recipe.</summary>
public sealed record PluginDescription(int SchemaVersion, string Id, string Version, string SdkVersion, string Description, string Kind, string Needs,
    IReadOnlyList<string> Targets, IReadOnlyList<PluginOptionDescription> Options, JObject RecipeSchema);
