namespace Compressor.Host.Commands;

/// <summary>One plugin of <c>compress plugin list --format json</c> (manifest fields are null when it has none).</summary>
/// <param name="Id">Its id.</param>
/// <param name="Version">Its version.</param>
/// <param name="SdkVersion">The SDK version it targets.</param>
/// <param name="Kind">What it does.</param>
/// <param name="Needs">The data it needs.</param>
/// <param name="Description">One line about it.</param>
/// <param name="Status">Its status in kebab case (<c>available</c>, <c>incompatible</c>, <c>load-failed</c>, …).</param>
/// <param name="Reason">Why it is not available, or null.</param>
/// <param name="Directory">Its folder.</param>
/// <param name="LayerKinds">The compressed layer kinds it declares.</param>
public sealed record PluginListEntry(string Id, string? Version, string? SdkVersion, string? Kind, string? Needs, string? Description, string Status,
    string? Reason, string Directory, IReadOnlyList<string> LayerKinds);
