namespace Compressor.Host.Demo;

/// <summary>What the demo produced.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="Report">The demo's report.json.</param>
/// <param name="Steps">Each step's outcome.</param>
public sealed record DemoResult(string OutputDirectory, DemoReport Report, IReadOnlyList<DemoStepResult> Steps);
