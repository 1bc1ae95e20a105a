using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Tests.Support;
using Compressor.Host.Pipeline;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>Hugging Face model folders through the CLI: <c>run</c> and <c>export</c> write the deployable layout,
/// <c>inspect DIR</c> shows the config, bad folders fail in one line with exit code 3 and nothing written, and
/// transformers.js (npm, with its own onnxruntime-node) runs the exported MiniLM folder offline.</summary>
public sealed class ModelFolderTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "Golden", "architecture_golden.safetensors");

    private static readonly string[] Sentences =
    [
        "The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
        "The new movie is awesome", "The new movie is so great",
    ];

    /// <summary>A tiny model folder of <paramref name="family"/> (weights and config.json from the architecture goldens).</summary>
    private string Folder(string family)
    {
        string dir = Path.Combine(fx.NewDir("folder-" + family), family);
        Directory.CreateDirectory(dir);
        using var reader = CheckpointFormats.Open(GoldenPath);
        File.WriteAllText(Path.Combine(dir, "config.json"), reader.Metadata[family + ".config"]);
        string prefix = family + ".w.";
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
            reader.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(t => (t.Name[prefix.Length..], reader.Read(t.Name))).ToList(),
            new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{}");
        return dir;
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void RunOnAFolderWritesTheDeployableLayout(string family)
    {
        string input = Folder(family), outDir = fx.NewDir("out-" + family);
        var (code, stdout, stderr) = HostFixture.Cli("run", "rtn", "--model", input, "--out", outDir, "--weight-bits", "4", "--verbosity", "q");
        Assert.True(code == 0, stderr);
        foreach (var file in new[] { "config.json", "tokenizer_config.json", Path.Combine("onnx", "model.onnx"), RunPipeline.CheckpointFile, RunPipeline.ReportFile, RunPipeline.RecipeFile })
            Assert.True(File.Exists(Path.Combine(outDir, file)), $"{file} missing; stdout: {stdout}");
        Assert.Equal(File.ReadAllText(Path.Combine(input, "config.json")), File.ReadAllText(Path.Combine(outDir, "config.json")));
        var report = JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.ReportFile)));
        Assert.True((double)report["verification"]!["sqnrDb"]! >= 60, $"ONNX parity {report["verification"]!["sqnrDb"]} dB");
        Assert.Equal(Path.GetFullPath(input), (string?)JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)))["input"]!["path"]);
    }

    [Fact]
    public void InspectShowsTheFolderConfig()
    {
        var (code, stdout, stderr) = HostFixture.Cli("inspect", Folder("llama"));
        Assert.True(code == 0, stderr);
        Assert.Contains("model_type llama", stdout);
        Assert.Contains("loads as      llama", stdout);
        Assert.Contains("\"kvHeads\":2", stdout);
        Assert.Contains("model.layers.1.mlp.gate_proj.weight", stdout);
    }

    [Fact]
    public void BadFoldersExitWithCode3AndWriteNothing()
    {
        string input = Folder("bert");
        var config = JObject.Parse(File.ReadAllText(Path.Combine(input, "config.json")));
        config["model_type"] = "whisper";
        File.WriteAllText(Path.Combine(input, "config.json"), config.ToString());
        string outDir = Path.Combine(fx.NewDir("bad"), "out");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", input, "--out", outDir, "--verbosity", "q");
        Assert.Equal(3, code);
        Assert.Contains("model_type 'whisper' is not supported", stderr);
        Assert.Single(stderr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any(), "nothing may be written");
    }

    [TransformersJsFact]
    public void TransformersJsRunsTheExportedMiniLmFolderOffline()
    {
        string input = MiniLmFolder.Write(Path.Combine(fx.NewDir("minilm"), "all-MiniLM-L6-v2"));
        string outDir = Path.Combine(fx.NewDir("minilm-out"), "all-MiniLM-L6-v2-onnx");
        var (code, _, stderr) = HostFixture.Cli("export", input, "--out", outDir, "--verbosity", "q");
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "tokenizer.json")));

        var psi = new ProcessStartInfo("node") { WorkingDirectory = TransformersJsFactAttribute.FixtureDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "check.mjs", "feature-extraction", outDir }.Concat(Sentences)) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        string json = node.StandardOutput.ReadToEnd(), err = node.StandardError.ReadToEnd();
        Assert.True(node.WaitForExit(120_000), "node did not finish in 2 minutes");
        Assert.True(node.ExitCode == 0, err);
        var embeddings = JObject.Parse(json)["embeddings"]!.Select(row => row.Select(v => (float)v).ToArray()).ToArray();
        Assert.Equal(5, embeddings.Length);
        Assert.Equal(384, embeddings[0].Length);
        double Cos(int i, int j) => embeddings[i].Zip(embeddings[j], (a, b) => (double)a * b).Sum();
        Assert.Equal(0.6660, Cos(0, 1), 4);
        Assert.Equal(0.1046, Cos(0, 2), 4);
        Assert.Equal(0.1411, Cos(1, 2), 4);
        Assert.Equal(0.8939, Cos(3, 4), 4);

        // The same file on our ONNX Runtime (1.31) with MiniLM's WordPiece tokenizer: mean-pooled, normalised.
        using var scope = NewDisposeScope();
        var tokenizer = Compressor.Engine.Data.HuggingFaceTokenizer.Load(outDir);
        var ids = Sentences.Select(tokenizer.Encode).ToList();
        int length = ids.Max(x => x.Count);
        var flat = new long[ids.Count * length];
        var mask = new long[ids.Count * length];
        for (int b = 0; b < ids.Count; b++)
            for (int i = 0; i < ids[b].Count; i++) { flat[b * length + i] = ids[b][i]; mask[b * length + i] = 1; }
        var inputs = new Dictionary<string, Tensor>
        {
            ["input_ids"] = tensor(flat, [ids.Count, length]), ["attention_mask"] = tensor(mask, [ids.Count, length]), ["token_type_ids"] = zeros(ids.Count, length, ScalarType.Int64),
        };
        var hidden = Compressor.Tests.Shared.OrtRunner.Run(Path.Combine(outDir, "onnx", "model.onnx"), inputs, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC)["last_hidden_state"];
        var m = inputs["attention_mask"].unsqueeze(-1).to_type(ScalarType.Float32);
        var ours = nn.functional.normalize((hidden * m).sum(1) / m.sum(1), p: 2, dim: 1);
        var theirs = tensor(embeddings.SelectMany(e => e).ToArray(), [5, 384]);
        double diff = (ours - theirs).abs().max().item<float>();
        Assert.True(diff <= 1e-4, $"transformers.js (onnxruntime-node 1.30) vs ORT 1.31: max |Δ embedding| = {diff}");
    }
}

/// <summary>A fact that needs transformers.js installed in tests/Fixtures/TransformersJs (<c>npm ci</c> there; .ci/run
/// does it) and node on the PATH; skipped otherwise, saying so.</summary>
public sealed class TransformersJsFactAttribute : FactAttribute
{
    public TransformersJsFactAttribute()
    {
        if (!Directory.Exists(Path.Combine(FixtureDirectory, "node_modules", "@huggingface", "transformers")))
            Skip = $"transformers.js is not installed: run 'npm ci' in {FixtureDirectory} (.ci/run does)";
    }

    /// <summary>tests/Fixtures/TransformersJs of this checkout.</summary>
    public static string FixtureDirectory
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compressor.sln"))) dir = dir.Parent;
            return Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "tests", "Fixtures", "TransformersJs");
        }
    }
}
