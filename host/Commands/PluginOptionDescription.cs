namespace Compressor.Host.Commands;

/// <summary>One option of <c>compress plugin describe --format json</c>.</summary>
/// <param name="Flag">Its command-line flag (<c>--weight-bits</c>).</param>
/// <param name="Json">Its recipe key (<c>weightBits</c>).</param>
/// <param name="Type">Its type.</param>
/// <param name="Default">Its default, as text.</param>
/// <param name="Allowed">Its range or choices, or null.</param>
/// <param name="Description">What it does.</param>
public sealed record PluginOptionDescription(string Flag, string Json, string Type, string Default, string? Allowed, string Description);
