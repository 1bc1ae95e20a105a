using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Models;

/// <summary>A plugin step applied to a model: which plugin, its version, and the options it ran with.</summary>
public sealed record AppliedStep(string Plugin, string Version, JObject Options);
