using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary><c>compress train --format json</c>: the files written and train.json.</summary>
public sealed record TrainOutput(int SchemaVersion, IReadOnlyList<string> Files, TrainReport Train);
