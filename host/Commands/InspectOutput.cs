using Compressor.Engine.Checkpoints;

namespace Compressor.Host.Commands;

/// <summary><c>compress inspect --format json</c>: a checkpoint's format, sizes, detected architecture, metadata (sorted
/// by key) and tensors.</summary>
public sealed record InspectOutput(int SchemaVersion, string Path, string Format, long Parameters, long Elements, long Bytes, long FileBytes,
    DetectedArchitecture? Architecture, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<InspectedTensor> Tensors);
