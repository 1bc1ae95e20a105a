using System.Diagnostics;
using System.Security.Cryptography;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Sdk.Testing;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary><c>compress train</c> killed (SIGKILL) in the middle of an epoch and resumed with <c>--resume</c> ends
/// with a <c>model.safetensors</c> byte-identical to an uninterrupted run's, and the same per-epoch losses. Both
/// runs are separate processes on this machine with the same thread count (docs/resume.md).</summary>
public sealed class TrainResumeTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly string[] Train = ["train", "vit", "--data", "digits,limit=300", "--epochs", "2", "--seed", "5", "-v", "q"];

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>train.json's history without the timings.</summary>
    private static JArray LossesOf(string dir)
    {
        var history = (JArray)JObject.Parse(File.ReadAllText(Path.Combine(dir, "train.json")))["history"]!;
        foreach (var epoch in history.Cast<JObject>())
            foreach (var timing in epoch.Properties().Where(p => p.Name.Equals("seconds", StringComparison.OrdinalIgnoreCase)).ToList()) timing.Remove();
        Assert.Equal(2, history.Count);
        return history;
    }

    [Fact]
    public void AResumedRunAfterSigkillMidEpochMatchesAnUninterruptedOne()
    {
        string straight = fx.NewDir("train-straight");
        var (code, _, err) = HostFixture.Process([.. Train, "--out", straight]);
        Assert.True(code == 0, err);

        string killed = fx.NewDir("train-killed");
        string state = Path.Combine(killed, ".work", "train", "train-state.json");
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        string[] args = [HostFixture.HostDll, .. Train, "--out", killed];
        foreach (var a in args) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            // The first epoch's checkpoint marks the start of epoch 2; kill a moment into it.
            var clock = Stopwatch.StartNew();
            while (!File.Exists(state) && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(90)) Thread.Sleep(5);
            Thread.Sleep(50);
            Assert.False(p.HasExited, "the run ended before it could be killed mid-epoch");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.Equal(1, (int)JObject.Parse(File.ReadAllText(state))["epochsDone"]!);
        Assert.False(File.Exists(Path.Combine(killed, "model.safetensors")));

        (code, _, err) = HostFixture.Process([.. Train, "--out", killed, "--resume"]);
        Assert.True(code == 0, err);
        Assert.Equal(LossesOf(straight).ToString(), LossesOf(killed).ToString());
        using (var a = HostFixture.Load(Path.Combine(straight, "model.safetensors")))
        using (var b = HostFixture.Load(Path.Combine(killed, "model.safetensors")))
        {
            var ta = a.NamedTensors();
            var tb = b.NamedTensors();
            for (int i = 0; i < ta.Count; i++) Tolerances.AssertIdentical(ta[i].Tensor, tb[i].Tensor, ta[i].Name);
        }
        Assert.Equal(Sha256(Path.Combine(straight, "model.safetensors")), Sha256(Path.Combine(killed, "model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(killed, ".work")), "the work folder is removed once the run completes");
    }
}
