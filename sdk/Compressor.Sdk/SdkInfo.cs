using System.Reflection;

namespace Compressor.Sdk;

/// <summary>The version of this plugin contract. A plugin declares the SDK version it was built against in its
/// <c>plugin.json</c>; a host runs it when the host's SDK has the same major version and at least the plugin's minor
/// version (SemVer: the major changes on a breaking change of the contract, the minor when something is added that a
/// plugin may use, the patch on fixes). The version is the assembly's own, set at build time from
/// <c>CompressSdkVersion</c> (one source).</summary>
public static class SdkInfo
{
    private static readonly Version Parsed = typeof(SdkInfo).Assembly.GetName().Version ?? new Version(0, 0, 0);

    /// <summary>The SDK version, <c>major.minor.patch</c>.</summary>
    public static string Version { get; } = $"{Parsed.Major}.{Parsed.Minor}.{Math.Max(0, Parsed.Build)}";

    /// <summary>The major number of <see cref="Version"/>.</summary>
    public static int Major => Parsed.Major;

    /// <summary>The minor number of <see cref="Version"/>.</summary>
    public static int Minor => Parsed.Minor;

    /// <summary>Whether a plugin built against SDK <paramref name="targetVersion"/> can run on this SDK: same major,
    /// and a minor no newer than this SDK's (the plugin may use members added in its minor). A pre-release or build
    /// suffix (<c>2.1.0-ci.1</c>) is ignored.</summary>
    /// <param name="targetVersion">The plugin's <c>sdkVersion</c>.</param>
    /// <param name="reason">Why not, in one line; empty when compatible.</param>
    public static bool IsCompatible(string targetVersion, out string reason) => IsCompatible(targetVersion, Version, out reason);

    /// <summary><see cref="IsCompatible(string, out string)"/> against a given host SDK version (for tests and tools).</summary>
    public static bool IsCompatible(string targetVersion, string hostVersion, out string reason)
    {
        if (!TryParse(targetVersion, out var target))
        {
            reason = $"sdkVersion '{targetVersion}' is not a SemVer version";
            return false;
        }
        if (!TryParse(hostVersion, out var host)) throw new ArgumentException($"'{hostVersion}' is not a SemVer version", nameof(hostVersion));
        if (target.Major != host.Major)
        {
            reason = $"targets SDK {targetVersion}, this host has SDK {hostVersion} (major versions differ)";
            return false;
        }
        if (target.Minor > host.Minor)
        {
            reason = $"targets SDK {targetVersion}, newer than this host's SDK {hostVersion}: update compress";
            return false;
        }
        reason = "";
        return true;
    }

    private static bool TryParse(string text, out Version version) =>
        System.Version.TryParse(text.Split('-', '+')[0], out version!) && version.Major >= 0 && version.Minor >= 0;
}
