using Compressor.Host.Results;

namespace Compressor.Host.Commands;

/// <summary><c>compress run --format json</c>: where the outputs went, and the report.</summary>
public sealed record RunOutput(int SchemaVersion, string OutputDirectory, IReadOnlyList<string> Files, RunReport Report);
