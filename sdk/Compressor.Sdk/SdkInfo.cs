namespace Compressor.Sdk;

/// <summary>The SDK's own version. Plugins declare the SDK version they target in their manifest; the host loads
/// a plugin only when that version has the same major number as <see cref="Version"/> (SemVer: a major bump is a
/// breaking change of the plugin contract; minor adds, patch fixes).</summary>
public static class SdkInfo
{
    /// <summary>The SDK version, SemVer.</summary>
    public const string Version = "1.0.0";

    /// <summary>The major number of <see cref="Version"/>.</summary>
    public static int Major => int.Parse(Version.Split('.')[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether a plugin built against <paramref name="targetVersion"/> can run on this SDK.</summary>
    public static bool IsCompatible(string targetVersion, out string reason)
    {
        if (!System.Version.TryParse(targetVersion.Split('-', '+')[0], out var v))
        {
            reason = $"sdkVersion '{targetVersion}' is not a SemVer version";
            return false;
        }
        if (v.Major != Major)
        {
            reason = $"targets SDK {targetVersion}, this host has SDK {Version} (major versions differ)";
            return false;
        }
        reason = "";
        return true;
    }
}
