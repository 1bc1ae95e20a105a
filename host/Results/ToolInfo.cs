using Compressor.Sdk;

namespace Compressor.Host.Results;

/// <summary>Which tool wrote a file: <c>tool</c> of report.json, recipe.json, train.json and the demo report.</summary>
/// <param name="Name">Always <c>compress</c>.</param>
/// <param name="Version">The host's version.</param>
/// <param name="SdkVersion">The plugin contract's version (<see cref="SdkInfo.Version"/>).</param>
public sealed record ToolInfo(string Name, string Version, string SdkVersion)
{
    /// <summary>This host.</summary>
    public static ToolInfo Current { get; } = new("compress", typeof(ToolInfo).Assembly.GetName().Version?.ToString(3) ?? "0.0.0", SdkInfo.Version);

    /// <summary>One line for <c>--version</c>: the host's version and the SDK's.</summary>
    public override string ToString() => $"{Name} {Version} (SDK {SdkVersion})";
}
