using System.Diagnostics;
using System.Security.Cryptography;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.IO;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Compressor.Host.Pipeline;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>Issue 22 through the command line: output commits as a set (a blocked name, a crash in the middle, stale
/// staging), SIGTERM, exit codes the documentation promises instead of internal errors, terminal-safe plugin lists,
/// and <c>--threads</c>. Every fixture is made here.</summary>
[Collection(ThreadCountCollection.Name)]
public sealed class HostileRunTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string[] Staging(string dir) => Directory.GetDirectories(dir, OutputStaging.Prefix + "*");

    private static Process Start(IDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(HostFixture.HostDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("COMPRESS_PLUGIN_PATH");
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        return Process.Start(psi)!;
    }

    [Fact]
    public void ABlockedFinalNameFailsTheCommitWithEveryPreviousFileIntact()
    {
        // Case 5: with one final name blocked, `run` exited 6 but 5 of 6 files were already the new run's.
        string dir = fx.NewDir("blocked");
        string[] finals = ["compressed.safetensors", "model.onnx", "recipe.json", "report.json"];
        foreach (var f in finals) File.WriteAllText(Path.Combine(dir, f), $"previous {f}");
        Directory.CreateDirectory(Path.Combine(dir, "report.md"));   // in the way of one output
        var (code, _, err) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "4", "-v", "q");
        Assert.Equal((int)ExitCode.OutputFailed, code);
        Assert.StartsWith("error: cannot write ", err.Trim());
        foreach (var f in finals) Assert.Equal($"previous {f}", File.ReadAllText(Path.Combine(dir, f)));
        Assert.Empty(Staging(dir));
    }

    [Fact]
    public void AKillInTheMiddleOfTheCommitIsCompletedByTheNextRun()
    {
        // Case 5: kill -9 during the commit left an 8-bit compressed.safetensors beside a 4-bit model.onnx. The crash
        // point kills the process (SIGKILL) right after the second rename of the commit.
        string clean = fx.NewDir("commit-clean");
        Assert.Equal(0, HostFixture.Process("run", "rtn", "--model", fx.ModelPath, "--out", clean, "--weight-bits", "4", "-v", "q").Code);

        string dir = fx.NewDir("commit-crash");
        Assert.Equal(0, HostFixture.Process("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "8", "-v", "q").Code);
        string eightBit = Sha(Path.Combine(dir, "compressed.safetensors"));
        using (var p = Start(new Dictionary<string, string> { [CrashPoints.EnvironmentVariable] = "commit.after-move:2" },
                   "run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "4", "-v", "q"))
        {
            Assert.True(p.WaitForExit(120_000));
            Assert.Equal(137, p.ExitCode);   // killed by SIGKILL at the crash point
        }
        // Mid-commit: some files are the new run's, some the old one's, and the staging folder holds the commit marker.
        var staged = Assert.Single(Staging(dir));
        Assert.True(File.Exists(Path.Combine(staged, ".commit")));
        Assert.NotEqual(eightBit, Sha(Path.Combine(dir, "compressed.safetensors")));   // renamed first (names in order)

        // What any next command writing there does first: complete the interrupted commit.
        Assert.Equal([Path.GetFileName(staged)], OutputStaging.Recover(dir));
        Assert.Empty(Staging(dir));
        foreach (var f in new[] { "compressed.safetensors", "model.onnx" })
            Assert.Equal(Sha(Path.Combine(clean, f)), Sha(Path.Combine(dir, f)));
        Assert.Equal(4, (int)JObject.Parse(File.ReadAllText(Path.Combine(dir, "recipe.json")))["steps"]![0]!["options"]!["weightBits"]!);
    }

    [Fact]
    public void AKillBeforeTheCommitMarkerLeavesThePreviousOutputsAndStaleStagingIsRemoved()
    {
        string dir = fx.NewDir("commit-early");
        Assert.Equal(0, HostFixture.Process("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "8", "-v", "q").Code);
        var before = Directory.GetFiles(dir).ToDictionary(f => Path.GetFileName(f)!, Sha);
        using (var p = Start(new Dictionary<string, string> { [CrashPoints.EnvironmentVariable] = "resume.after-tensors" },
                   "run", "resume-probe", "--model", fx.ModelPath, "--out", dir, "--plugins", fx.FaultyPlugins, "-v", "q"))
            Assert.True(p.WaitForExit(120_000));
        // A staging folder abandoned by a killed process of an older version (no lock file, a dead process id).
        Directory.CreateDirectory(Path.Combine(dir, ".staging-999999-0123456789abcdef0123456789abcdef", "x"));
        File.WriteAllText(Path.Combine(dir, ".staging-999999-0123456789abcdef0123456789abcdef", "model.onnx"), "partial");
        Directory.CreateDirectory(Path.Combine(dir, ".staging-not-ours"));   // another tool's folder: left alone
        Assert.Equal(0, HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "8", "-v", "q").Code);
        Assert.Equal([Path.Combine(dir, ".staging-not-ours")], Staging(dir));
        Assert.Equal(before["compressed.safetensors"], Sha(Path.Combine(dir, "compressed.safetensors")));
    }

    [Fact]
    public void SigtermCancelsLikeSigintWithOneErrorLineAndCleanFolders()
    {
        // Case 5: SIGTERM exited 143 without an error line and left staging and work folders.
        string dir = fx.NewDir("sigterm");
        using var p = Start(null, "run", "slow-cooperative", "--model", fx.ModelPath, "--out", dir, "--plugins", fx.FaultyPlugins);
        var stderr = new System.Text.StringBuilder();
        var started = new ManualResetEventSlim();
        p.ErrorDataReceived += (_, e) => { if (e.Data is null) return; lock (stderr) stderr.AppendLine(e.Data); if (e.Data.Contains("step 1/1")) started.Set(); };
        p.OutputDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        Assert.True(started.Wait(TimeSpan.FromSeconds(90)), "the step never started");
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        Assert.True(p.WaitForExit(60_000), "SIGTERM did not stop the run");
        p.WaitForExit();
        Assert.Equal((int)ExitCode.Terminated, p.ExitCode);
        var errors = stderr.ToString().Split('\n').Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Equal(["error: cancelled"], errors.Select(l => l.TrimEnd()));
        Assert.Empty(Staging(dir));
        Assert.False(Directory.Exists(Path.Combine(dir, ".work")), "the work folder of a step that saved nothing is removed");
        Assert.Empty(Directory.GetFiles(dir));
    }

    [Fact]
    public void PromisedExitCodesInsteadOfInternalErrors()
    {
        // Case 6: each of these was exit 1 ("internal error").
        var (code, _, err) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", "", "-v", "q");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.Equal("error: --out: the output path is empty", err.Trim());

        string recipe = Path.Combine(fx.NewDir("seed"), "r.json");
        File.WriteAllText(recipe, """{"seed": 99999999999999999999, "steps": [{"plugin": "rtn"}]}""");
        (code, _, err) = HostFixture.Cli("run", recipe, "--model", fx.ModelPath, "--out", fx.NewDir("seed-out"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);
        Assert.Contains("\"seed\" must be an integer", err);
        File.WriteAllText(recipe, """{"steps": [{"plugin": "rtn", "options": {"weightBits": 4, "weightBits": 8}}]}""");
        (code, _, err) = HostFixture.Cli("run", recipe, "--model", fx.ModelPath, "--out", fx.NewDir("dup-out"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);   // case 9: duplicate recipe options
        Assert.Contains("invalid recipe", err);

        // NaN input weights: a named input error, not the plugin's failure.
        string nan = Path.Combine(fx.NewDir("nan"), "nan.safetensors");
        using (var model = HostFixture.Load(fx.ModelPath))
        {
            using (no_grad()) model.NamedTensors().First(t => t.Tensor.is_floating_point()).Tensor[0] = float.NaN;
            ModelIO.Save(model, nan);
        }
        (code, _, err) = HostFixture.Cli("run", "rtn", "--model", nan, "--out", fx.NewDir("nan-out"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);
        Assert.Contains("holds non-finite values", err);

        // A work folder that cannot be written (a file where its parent should be): an output failure, not the plugin's.
        string outDir = fx.NewDir("work-blocked");
        File.WriteAllText(Path.Combine(outDir, "blocker"), "");
        (code, _, err) = HostFixture.Cli("run", "resume-probe", "--model", fx.ModelPath, "--out", outDir, "--work", Path.Combine(outDir, "blocker", "w"),
            "--plugins", fx.FaultyPlugins, "-v", "q");
        Assert.Equal((int)ExitCode.OutputFailed, code);
        Assert.Contains("cannot write resume state", err);
    }

    [Fact]
    public void AManifestConfigDeclaringHugeLayersIsAnInputError()
    {
        // Case 6: a compression manifest whose layer config says inFeatures 2e9.
        string dir = fx.NewDir("infeatures");
        Assert.Equal(0, HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", dir, "--weight-bits", "4", "-v", "q").Code);
        string path = Path.Combine(dir, "compressed.safetensors"), bad = Path.Combine(dir, "bad.safetensors");
        using (var reader = SafetensorsReader.Open(path))
        {
            var metadata = reader.Metadata.ToDictionary();
            metadata[CompressionManifest.MetadataKey] = metadata[CompressionManifest.MetadataKey].Replace("\"inFeatures\":64", "\"inFeatures\":2000000000");
            Assert.Contains("2000000000", metadata[CompressionManifest.MetadataKey]);
            using var scope = NewDisposeScope();
            SafetensorsWriter.Write(bad, reader.Entries.Select(e => (e.Name, reader.Read(e))).ToList(), metadata);
        }
        var (code, _, err) = HostFixture.Cli("export", bad, "--out", Path.Combine(dir, "bad.onnx"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);
        Assert.StartsWith("error: ", err);
        Assert.False(File.Exists(Path.Combine(dir, "bad.onnx")));
    }

    [Fact]
    public async Task PluginListEscapesManifestTextAndSurvivesDevicesAndFifos()
    {
        // Case 7 and 3: ESC/CR/LF in a description forged rows and retitled the terminal; a 10 MB version printed 250 MB;
        // a manifest linking to /dev/zero crashed the list and a FIFO hung it.
        string root = fx.NewDir("plugins-hostile");
        string evil = Directory.CreateDirectory(Path.Combine(root, "evil")).FullName;
        foreach (var f in Directory.GetFiles(Path.Combine(fx.FaultyPlugins, "other-patch-sdk"))) File.Copy(f, Path.Combine(evil, Path.GetFileName(f)));
        var manifest = JObject.Parse(File.ReadAllText(Path.Combine(evil, "plugin.json")));
        manifest["id"] = "evil";
        manifest["sdkVersion"] = HostFixture.Sdk;
        manifest["description"] = "fine\u001b]0;pwned\u0007\r\nforged-row  9.9.9  2.0.0  quantization  none  available  trust me\u001b[2J";
        File.WriteAllText(Path.Combine(evil, "plugin.json"), manifest.ToString());
        string big = Directory.CreateDirectory(Path.Combine(root, "big")).FullName;
        manifest["id"] = "big";
        manifest["version"] = "1.0.0-" + new string('A', 10_000_000);
        File.WriteAllText(Path.Combine(big, "plugin.json"), manifest.ToString());
        string zero = Directory.CreateDirectory(Path.Combine(root, "zero")).FullName;
        File.CreateSymbolicLink(Path.Combine(zero, "plugin.json"), "/dev/zero");
        string fifo = Directory.CreateDirectory(Path.Combine(root, "fifo")).FullName;
        using (var mk = Process.Start("mkfifo", [Path.Combine(fifo, "plugin.json")])) mk.WaitForExit();

        var task = Task.Run(() => HostFixture.Cli("plugin", "list", "--plugins", root));
        Assert.True(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(60))) == task, "plugin list hung");
        var (code, stdout, _) = await task;
        Assert.Equal(0, code);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.DoesNotContain('\r', stdout);
        Assert.DoesNotContain('\u0007', stdout);
        Assert.Contains("\\e]0;pwned", stdout);
        Assert.DoesNotContain(stdout.Split('\n'), l => l.StartsWith("forged-row", StringComparison.Ordinal));
        Assert.True(stdout.Length < 64_000, $"plugin list printed {stdout.Length} characters");
        foreach (var id in new[] { "big", "zero", "fifo" })
            Assert.Contains(stdout.Split('\n'), l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.Contains("invalid-manifest"));
    }

    [Fact]
    public void InspectEscapesTensorNamesAndMetadata()
    {
        // Case 7: names and metadata come from the file; ESC, CR and LF must not reach the terminal as themselves.
        string path = Path.Combine(fx.NewDir("inspect-escape"), "evil.safetensors");
        using (var t = ones(2))
            SafetensorsWriter.Write(path, [("w\u001b]0;owned\u0007\r\nforged", t)],
                new Dictionary<string, string> { ["note\u001b[2J"] = "line1\r\nline2\u202eevil" });
        var (code, stdout, err) = HostFixture.Cli("inspect", path);
        Assert.True(code == 0, err);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.DoesNotContain('\r', stdout);
        Assert.DoesNotContain('\u202e', stdout);
        Assert.Contains("\\e]0;owned", stdout);
        Assert.DoesNotContain(stdout.Split('\n'), l => l.StartsWith("forged", StringComparison.Ordinal) || l.StartsWith("line2", StringComparison.Ordinal));
    }

    [Fact]
    public void ThreadsIsAGlobalOptionAppliedToLibtorch()
    {
        Assert.Equal((int)ExitCode.InvalidArguments, HostFixture.Cli("--threads", "0", "plugin", "list").Code);
        Assert.Equal(0, HostFixture.Cli("plugin", "list", "--threads", "1").Code);
        Assert.Equal(1, Compressor.Engine.Runtime.ComputeThreads.Count);
        Assert.Equal(1, get_num_threads());
        Compressor.Engine.Runtime.ComputeThreads.Apply(Compressor.Engine.Runtime.ComputeThreads.Default());
        Assert.Equal(Compressor.Engine.Runtime.ComputeThreads.Default(), get_num_threads());
    }

    [Fact]
    public void AnOnnxModelCannotExportAFileOutsideItsFolder()
    {
        // Case 1 end to end: `compress export model.onnx --out y.onnx` copied /etc/passwd (through a link) into y.onnx.
        string dir = fx.NewDir("exfil");
        string secret = Path.Combine(fx.NewDir("secret"), "passwd");
        File.WriteAllBytes(secret, new byte[32]);
        File.CreateSymbolicLink(Path.Combine(dir, "pw"), secret);
        var w = new Onnx.TensorProto { Name = "w", DataType = (int)Onnx.TensorProto.Types.DataType.Float, DataLocation = Onnx.TensorProto.Types.DataLocation.External };
        w.Dims.AddRange([2L, 4L]);
        w.ExternalData.Add(new Onnx.StringStringEntryProto { Key = "location", Value = "pw" });
        var graph = new Onnx.GraphProto { Name = "g" };
        var node = new Onnx.NodeProto { OpType = "MatMul", Name = "mm" };
        node.Input.AddRange(["x", "w"]);
        node.Output.Add("y");
        graph.Node.Add(node);
        graph.Initializer.Add(w);
        Onnx.ValueInfoProto V(string n, long d) => new()
        {
            Name = n, Type = new Onnx.TypeProto { TensorType = new Onnx.TypeProto.Types.Tensor { ElemType = 1, Shape = new Onnx.TensorShapeProto { Dim = { new Onnx.TensorShapeProto.Types.Dimension { DimValue = 1 }, new Onnx.TensorShapeProto.Types.Dimension { DimValue = d } } } } },
        };
        graph.Input.Add(V("x", 2));
        graph.Output.Add(V("y", 4));
        var model = new Onnx.ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new Onnx.OperatorSetIdProto { Domain = "", Version = 13 });
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(model));
        var (code, _, err) = HostFixture.Cli("export", Path.Combine(dir, "model.onnx"), "--out", Path.Combine(dir, "y.onnx"), "-v", "q");
        Assert.Equal((int)ExitCode.InvalidInput, code);
        Assert.Contains("resolves outside the folder", err);
        Assert.False(File.Exists(Path.Combine(dir, "y.onnx")));
    }
}
