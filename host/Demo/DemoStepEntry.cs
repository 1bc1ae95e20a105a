namespace Compressor.Host.Demo;

/// <summary>One entry of the demo report's <c>steps[]</c>; a step that ran is a <see cref="DemoStepRun"/>, which adds
/// its sizes, metrics and verification.</summary>
/// <param name="Name">Its folder under <c>steps/</c>.</param>
/// <param name="Title">What the table calls it.</param>
/// <param name="Status">How it ended.</param>
/// <param name="Reason">Why it was skipped or failed; null when ok.</param>
/// <param name="Plugins">The plugins of its recipe.</param>
/// <param name="Recipe">The recipe file it ran (under <c>recipes/</c>); null when skipped.</param>
/// <param name="Seconds">Its wall time.</param>
public record DemoStepEntry(string Name, string Title, DemoStepStatus Status, string? Reason, IReadOnlyList<string> Plugins, string? Recipe, double Seconds);
