using Compressor.Host.Search;

namespace Compressor.Host.Commands;

/// <summary><c>compress search --format json</c>: the output folder, the files written, and search.json.</summary>
public sealed record SearchOutput(int SchemaVersion, string OutputDirectory, IReadOnlyList<string> Files, SearchReport Search);
