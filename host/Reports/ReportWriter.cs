using Compressor.Sdk.Diagnostics;
using Compressor.Engine.IO;
using Compressor.Host.Results;

namespace Compressor.Host.Reports;

/// <summary>Writes report.md and report.html, rendered from the typed report (what report.json holds), into a folder (the run's staging folder, so
/// they appear only with the other outputs); each file is written atomically.</summary>
public static class ReportWriter
{
    /// <summary>The Markdown report's file name.</summary>
    public const string MarkdownFile = "report.md";

    /// <summary>The HTML report's file name.</summary>
    public const string HtmlFile = "report.html";

    /// <summary>Renders the plots once and writes both files into <paramref name="directory"/>.</summary>
    public static void Write(RunReport report, string directory, IPluginLogger? log = null)
    {
        if (!FontSupport.HasFonts) log?.Warn("no font found (Debian: apt-get install fonts-dejavu-core): report plots are drawn without text");
        var plots = ReportPlots.Render(report, log);
        var tables = ReportTables.Build(report);
        AtomicFile.WriteAllText(Path.Combine(directory, MarkdownFile), ReportMarkdown.Render(report, tables, plots));
        AtomicFile.WriteAllText(Path.Combine(directory, HtmlFile), ReportHtml.Render(report, tables, plots));
    }
}
