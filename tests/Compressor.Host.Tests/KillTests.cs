using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;

namespace Compressor.Host.Tests;

/// <summary>SIGKILL at many points of a real <c>compress</c> process: nothing under a final name is ever partial,
/// and what the output folder held before stays intact until a complete replacement lands.</summary>
public sealed class KillTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(HostFixture.HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void AssertIntactOrComplete(string dir, string file, string previous)
    {
        string path = Path.Combine(dir, file);
        if (!File.Exists(path)) return;
        string text = File.ReadAllText(path);
        if (text == previous) return;
        // Replaced: it must then be a complete, loadable file.
        if (file.EndsWith(".safetensors", StringComparison.Ordinal)) using (HostFixture.Load(path)) { }
        else if (file.EndsWith(".json", StringComparison.Ordinal)) Newtonsoft.Json.Linq.JObject.Parse(text);
        else if (file.EndsWith(".html", StringComparison.Ordinal)) Assert.EndsWith("</html>", text.TrimEnd());
        else if (file.EndsWith(".onnx", StringComparison.Ordinal)) Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        else Assert.NotEmpty(text);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("train")]
    public void KilledAtAnyPointLeavesNoPartialFileUnderAFinalName(string command)
    {
        string[] finals = command == "run"
            ? ["compressed.safetensors", "model.onnx", "recipe.json", "report.json", "report.md", "report.html"]
            : ["model.safetensors", "train.json"];
        var delays = command == "run" ? new[] { 150, 400, 700, 1000, 1400, 2000, 3000 } : new[] { 300, 800, 1500, 2500, 4000, 6000 };
        foreach (int ms in delays)
        {
            string dir = fx.NewDir($"kill-{command}-{ms}");
            foreach (var f in finals) File.WriteAllText(Path.Combine(dir, f), $"previous {f}");
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
            using var p = command == "run"
                ? Start("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "4", "-v", "q")
                : Start("train", "vit", "--data", "digits,limit=600", "--out", dir, "--epochs", "6", "-v", "q");
            if (!p.WaitForExit(ms))
            {
                p.Kill(entireProcessTree: true);   // SIGKILL
                p.WaitForExit();
            }
            foreach (var f in finals) AssertIntactOrComplete(dir, f, $"previous {f}");
            Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
            // Temporary files never carry a final name; leftovers are hidden (dot) names only.
            Assert.All(Directory.GetFiles(dir).Select(Path.GetFileName), n => Assert.True(finals.Contains(n) || n == "notes.txt" || n!.StartsWith('.'), n));
        }
    }
}
