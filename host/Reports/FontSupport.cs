using SkiaSharp;

namespace Compressor.Host.Reports;

/// <summary>Whether plots can draw text on this machine. ScottPlot renders through SkiaSharp's Linux
/// "NoDependencies" build, which finds fonts by scanning the system font folders (<c>/usr/share/fonts</c>) without
/// fontconfig; with no font file there, text would be drawn with an empty typeface. The report then draws plots
/// without text (titles and labels move into the HTML/Markdown captions) instead of failing. On Debian the package
/// <c>fonts-dejavu-core</c> provides the fonts.</summary>
public static class FontSupport
{
    private static readonly Lazy<string?> Family = new(Detect);

    /// <summary>A font family SkiaSharp can draw with, or null when none is installed.</summary>
    public static string? AvailableFamily => Family.Value;

    /// <summary>Whether any font is available.</summary>
    public static bool HasFonts => AvailableFamily is not null;

    private static string? Detect()
    {
        try
        {
            var manager = SKFontManager.Default;
            if (manager.FontFamilyCount == 0) return null;
            string[] preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica"];
            var families = manager.GetFontFamilies();
            foreach (var p in preferred)
                if (families.Contains(p, StringComparer.OrdinalIgnoreCase)) return p;
            return families.FirstOrDefault(f => !string.IsNullOrWhiteSpace(f));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException)
        {
            return null;
        }
    }
}
