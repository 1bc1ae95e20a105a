using Compressor.Engine.Checkpoints;

namespace Compressor.Host.Commands;

/// <summary><c>compress inspect --format json</c>: a checkpoint's format, sizes, detected architecture, metadata (sorted
/// by key) and tensors.</summary>
public sealed record InspectOutput(int SchemaVersion, string Path, string Format, long Parameters, long Elements, long Bytes, long FileBytes,
    DetectedArchitecture? Architecture, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<InspectedTensor> Tensors,
    InspectedFolder? Folder = null);

/// <summary>A model folder as <c>compress inspect DIR</c> reads it.</summary>
/// <param name="Path">The folder.</param>
/// <param name="Config">Its config.json.</param>
/// <param name="ModelType">The config's <c>model_type</c> (or <c>timm</c>).</param>
/// <param name="Architecture">The built-in architecture it loads as.</param>
/// <param name="ArchitectureConfig">That architecture's complete config (sizes from config.json or the tensors).</param>
/// <param name="Weights">The weights file (or shard index).</param>
/// <param name="CompanionFiles">Tokenizer and other files a deployed folder carries along.</param>
public sealed record InspectedFolder(string Path, string Config, string ModelType, string Architecture, Newtonsoft.Json.Linq.JObject ArchitectureConfig,
    string Weights, IReadOnlyList<string> CompanionFiles);
