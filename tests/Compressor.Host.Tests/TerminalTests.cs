using System.Diagnostics;
using System.Text.RegularExpressions;
using Compressor.Host.Console;

namespace Compressor.Host.Tests;

/// <summary>What a user sees on a terminal (issue: log lines written under Spectre's redrawing bars broke the screen at
/// 160 columns and lost the per-epoch lines at 80). The real executable runs under a pseudo-terminal (util-linux
/// <c>script</c>), its output is replayed on an emulated screen of that width, and every log line the same command
/// writes when piped must be on it, with the screen ending on a finished progress bar.</summary>
public sealed partial class TerminalTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [GeneratedRegex(@"^.+: \d+/\d+( .*)?$|^.+: done in \d+\.\d s$")]
    private static partial Regex ProgressLine();

    [GeneratedRegex(@"\d+\.\d+ s\b|\d\d:\d\d")]
    private static partial Regex Timing();

    [GeneratedRegex("━{" + "30" + @"} 100% \d\d:\d\d$")]
    private static partial Regex FinishedBar();

    [PtyFact]
    public void TrainingAt80ColumnsKeepsEveryEpochLineAndEndsWithAFinishedBar()
    {
        string outDir = fx.NewDir("pty-train");
        string[] args = ["train", "mlp", "--data", "digits,limit=300", "--epochs", "3", "--batch-size", "16", "--out"];
        AssertScreenKeepsTheLog([.. args, Path.Combine(outDir, "a")], [.. args, Path.Combine(outDir, "b")], columns: 80, expectedLogLines: 4);
    }

    [PtyFact]
    public void RunWithExportAndEvaluationAt160ColumnsKeepsEveryLogLineAndEndsWithAFinishedBar()
    {
        string outDir = fx.NewDir("pty-run");
        string[] args = ["run", "rtn", "--model", fx.ModelPath, "--data", "digits", "--eval-limit", "64", "--out"];
        string screen = AssertScreenKeepsTheLog([.. args, Path.Combine(outDir, "a")], [.. args, Path.Combine(outDir, "b")], columns: 160, expectedLogLines: 4);
        Assert.Contains("exporting model.onnx", screen);
        Assert.Contains("evaluating on ONNX Runtime", screen);
    }

    /// <summary>Runs <paramref name="piped"/> with stderr piped (plain lines) and <paramref name="terminal"/> under a
    /// pseudo-terminal of <paramref name="columns"/> columns; returns the terminal's screen.</summary>
    private static string AssertScreenKeepsTheLog(string[] piped, string[] terminal, int columns, int expectedLogLines)
    {
        var lines = HostFixture.Process(piped);
        Assert.True(lines.Code == 0, lines.Err);
        var log = lines.Err.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !ProgressLine().IsMatch(l)).ToList();
        Assert.True(log.Count >= expectedLogLines, $"expected at least {expectedLogLines} log lines, got: {string.Join(" | ", log)}");

        var (code, transcript) = UnderPty(terminal, columns);
        Assert.True(code == 0, transcript);
        var rows = TerminalScreen.Render(transcript, columns);
        string screen = string.Join("\n", rows);
        Assert.Contains("━", screen);   // bars were drawn, not plain progress lines
        string squeezed = TerminalScreen.Squeeze(Timing().Replace(screen, "#"));
        foreach (var line in log)
            Assert.True(squeezed.Contains(TerminalScreen.Squeeze(Timing().Replace(line, "#")), StringComparison.Ordinal),
                $"log line lost from the {columns}-column screen: '{line}'\n--- screen ---\n{screen}");
        Assert.Matches(FinishedBar(), rows[^1]);
        return screen;
    }

    /// <summary>Runs <c>compress</c> under <c>script</c> (a pseudo-terminal of the given width; stdout to a file) and
    /// returns the exit code and everything the terminal received.</summary>
    private static (int Code, string Transcript) UnderPty(string[] args, int columns)
    {
        string stdout = Path.GetTempFileName();
        string command = $"stty cols {columns} rows 40; exec dotnet {Quote(HostFixture.HostDll)} {string.Join(' ', args.Select(Quote))} > {Quote(stdout)}";
        var psi = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "-q", "-e", "-c", command, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment["TERM"] = "xterm-256color";
        psi.Environment.Remove("COMPRESS_PLUGIN_PATH");
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("compress under script did not finish in 180 s"); }
        File.Delete(stdout);
        return (p.ExitCode, output.Result + error.Result);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    [Fact]
    public void TheLiveWriterPrintsLogLinesAboveTheBarsAndLeavesAFinishedBar()
    {
        var error = new StringWriter();
        var console = new ConsoleWriter(error, Verbosity.Normal, live: true);
        Assert.True(console.ShowsBars);
        console.Run(progress =>
        {
            using (var task = progress.Start("work", 4))
            {
                for (int i = 0; i < 4; i++)
                {
                    console.Logger.Log(Compressor.Sdk.Diagnostics.LogLevel.Information, $"log line {i}");
                    task.Advance(1, $"item {i}");
                }
            }
            return 0;
        });
        var rows = TerminalScreen.Render(error.ToString(), 100);
        for (int i = 0; i < 4; i++) Assert.Contains($"log line {i}", rows);
        Assert.Matches(FinishedBar(), rows[^1]);
        Assert.StartsWith("work ", rows[^1]);
    }

    [Fact]
    public void PipedOrDetailedOutputIsPlainLines()
    {
        foreach (var verbosity in new[] { Verbosity.Normal, Verbosity.Detailed })
        {
            var error = new StringWriter();
            var console = new ConsoleWriter(error, verbosity, live: verbosity == Verbosity.Detailed ? true : null);
            Assert.False(console.ShowsBars);
            console.Run(progress =>
            {
                using var task = progress.Start("work", 2);
                console.Logger.Log(Compressor.Sdk.Diagnostics.LogLevel.Information, "hello");
                task.Advance(2);
                return 0;
            });
            string text = error.ToString();
            Assert.DoesNotContain("\x1b[", text);
            Assert.Contains("hello\n", text);
            Assert.Contains("work: 0/2\n", text);
            Assert.Matches(@"work: done in \d+\.\d s\n$", text);
        }
    }
}

/// <summary>A fact that needs util-linux <c>script</c> (a pseudo-terminal), which Debian installs everywhere (bsdutils).</summary>
public sealed class PtyFactAttribute : FactAttribute
{
    public PtyFactAttribute()
    {
        if (!File.Exists("/usr/bin/script") && !File.Exists("/bin/script")) Skip = "util-linux 'script' is not installed (Debian: apt-get install -y bsdutils)";
    }
}
