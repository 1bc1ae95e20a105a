using System.Globalization;
using System.Text.RegularExpressions;

namespace Compressor.Host.Native;

/// <summary>A libtorch (PyTorch) version as its builds spell it: <c>2.10.0</c>, <c>2.11.0+cu128</c>, <c>2.10.0+cpu</c>,
/// <c>2.12.0.dev20260301+cu130</c>. Libtorch's C++ ABI changes between minor versions, so two libtorch builds are
/// interchangeable for a LibTorchSharp only when major and minor agree.</summary>
/// <param name="Major">The major version.</param>
/// <param name="Minor">The minor version.</param>
/// <param name="Patch">The patch version (0 when absent).</param>
/// <param name="Text">The version as read (trimmed), e.g. <c>2.11.0+cu128</c>.</param>
public sealed partial record LibTorchVersion(int Major, int Minor, int Patch, string Text)
{
    /// <summary>The local part after <c>+</c> (<c>cu128</c>, <c>cpu</c>, <c>rocm6.4</c>), or null.</summary>
    public string? Local => Text.IndexOf('+') is var i and >= 0 ? Text[(i + 1)..] : null;

    /// <summary>The CUDA version the local part names (<c>cu128</c> → 12.8, <c>cu130</c> → 13.0), or null.</summary>
    public string? CudaFromLocal => Local is { } l && CudaTag().Match(l) is { Success: true } m
        ? $"{m.Groups[1].Value[..^1]}.{m.Groups[1].Value[^1..]}"
        : null;

    /// <summary>Major.minor, e.g. <c>2.10</c>.</summary>
    public string MajorMinor => $"{Major}.{Minor}";

    /// <summary>Whether <paramref name="other"/> has the same major and minor version.</summary>
    public bool SameMinor(LibTorchVersion other) => Major == other.Major && Minor == other.Minor;

    /// <summary>Parses a version; null when <paramref name="text"/> does not start with major.minor.</summary>
    public static LibTorchVersion? TryParse(string? text)
    {
        if (text is null) return null;
        var t = text.Trim();
        var m = Leading().Match(t);
        if (!m.Success) return null;
        int patch = m.Groups[3].Success ? int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture) : 0;
        return new LibTorchVersion(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), patch, t);
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    [GeneratedRegex(@"^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:[.\w]*)?(?:\+[\w.]+)?$")]
    private static partial Regex Leading();

    [GeneratedRegex(@"^cu(\d{2,4})$")]
    private static partial Regex CudaTag();
}
