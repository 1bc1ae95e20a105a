namespace Compressor.Host.Search;

/// <summary>What a search produced.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="Files">The files committed into it.</param>
/// <param name="Report">search.json.</param>
public sealed record SearchResult(string OutputDirectory, IReadOnlyList<string> Files, SearchReport Report);
