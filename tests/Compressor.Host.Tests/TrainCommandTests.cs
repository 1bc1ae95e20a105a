using System.Diagnostics;
using Compressor.Host.Pipeline;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

public sealed class TrainCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void TinyVitOnDigitsReachesNinetyPercentWellUnderAMinute()
    {
        string outDir = fx.NewDir("train-vit");
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = HostFixture.Cli("train", "vit", "--data", "digits", "--out", outDir, "--epochs", "20", "--seed", "0", "--format", "json", "-v", "q");
        double seconds = clock.Elapsed.TotalSeconds;
        Assert.True(code == 0, stderr);
        var train = (JObject)JObject.Parse(stdout)["train"]!;
        double accuracy = (double)train["final"]!["EvalAccuracy"]!;
        Assert.True(accuracy >= 0.90, $"held-out accuracy {accuracy:P2} after 20 epochs ({seconds:F1} s)");
        Assert.Equal(4, (int)train["architecture"]!["config"]!["patchSize"]!);
        using var model = HostFixture.Load(Path.Combine(outDir, "model.safetensors"));
        Assert.Equal("vit", model.ArchitectureName);
        Assert.Equal(["model.safetensors", "train.json"], Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void TrainedModelFeedsRun()
    {
        string trained = fx.NewDir("train-mlp");
        var t = HostFixture.Cli("train", "mlp", "--data", "digits", "--out", trained, "--epochs", "2", "-v", "q");
        Assert.True(t.Code == 0, t.Err);
        var r = HostFixture.Cli("run", "rtn", "--model", Path.Combine(trained, "model.safetensors"), "--out", fx.NewDir("rtn-on-trained"), "--data", "digits", "-v", "q");
        Assert.True(r.Code == 0, r.Err);
    }

    [Theory]
    [InlineData(new[] { "train", "gpt", "--data", "digits" }, 2, "does not fit images data")]
    [InlineData(new[] { "train", "vit", "--data", "mnist" }, 2, "unknown kind 'mnist'")]
    [InlineData(new[] { "train", "vit", "--data", "digits", "--epochs", "0" }, 2, "--epochs 0 is out of range")]
    [InlineData(new[] { "train", "vit", "--data", "digits", "--config", "{\"depth\": \"deep\"}" }, 2, "'depth' must be an integer")]
    [InlineData(new[] { "train", "vit", "--data", "idx:/nonexistent" }, 3, "no such folder")]
    public void BadTrainRequestsAreOneLineErrors(string[] args, int code, string fragment)
    {
        var r = HostFixture.Cli([.. args, "--out", fx.NewDir("bad-train"), "-v", "q"]);
        Assert.Equal(code, r.Code);
        Assert.Contains(fragment, r.Err);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }
}

public sealed class TrainLanguageModelTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void TinyGptLearnsARepeatingText()
    {
        string dir = fx.NewDir("gpt");
        string text = Path.Combine(dir, "text.txt");
        // A deterministic, learnable text: a fixed sentence repeated; a character model must drive perplexity towards 1.
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        var (code, stdout, stderr) = HostFixture.Cli("train", "gpt", "--data", $"text:{text},context=32", "--out", Path.Combine(dir, "out"),
            "--epochs", "10", "--config", "{\"dim\": 64, \"layers\": 2, \"heads\": 2}", "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        var history = (JArray)JObject.Parse(stdout)["train"]!["history"]!;
        double first = (double)history[0]!["EvalPerplexity"]!, last = (double)history[^1]!["EvalPerplexity"]!;
        Assert.True(last < first && last < 3.0, $"validation perplexity {first:F2} → {last:F2}; expected it to fall below 3");
        Assert.Equal(28, (int)JObject.Parse(stdout)["train"]!["architecture"]!["config"]!["vocabSize"]!);
    }

    [Fact]
    public void TinyLlamaLearnsARepeatingText()
    {
        string dir = fx.NewDir("llama");
        string text = Path.Combine(dir, "text.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        var (code, stdout, stderr) = HostFixture.Cli("train", "llama-tiny", "--data", $"text:{text},context=32", "--out", Path.Combine(dir, "out"),
            "--epochs", "10", "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        var train = JObject.Parse(stdout)["train"]!;
        var history = (JArray)train["history"]!;
        double first = (double)history[0]!["EvalPerplexity"]!, last = (double)history[^1]!["EvalPerplexity"]!;
        Assert.True(last < first && last < 3.0, $"validation perplexity {first:F2} → {last:F2}; expected it to fall below 3");
        Assert.Equal("llama", (string)train["architecture"]!["name"]!);
        Assert.Equal(28, (int)train["architecture"]!["config"]!["vocabSize"]!);
    }
}
