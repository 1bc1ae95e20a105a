using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary><c>compress generate</c> on the deployable output of <c>run</c> / <c>export</c> of a tiny decoder folder
/// (the architecture goldens' Llama and GPT-2 with a small byte-level BPE tokenizer written here): its greedy tokens on
/// ONNX Runtime with the key/value cache are TorchSharp's greedy tokens recomputing the whole sequence (FP32 at ORT's
/// default level; rtn 4-bit at ORT_ENABLE_BASIC, where ORT computes the dequantized products exactly, as the
/// verification gate does, while the fused 4-bit kernel at ORT_ENABLE_ALL rounds its accumulation differently), the JSON output carries ids and text, bad
/// folders fail in one line, and transformers.js' <c>text-generation</c> on the same folder picks the same tokens.</summary>
public sealed class GenerateCommandTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private static readonly string GoldenPath = Path.Combine(AppContext.BaseDirectory, "Golden", "architecture_golden.safetensors");

    private const string Prompt = "the theory";

    /// <summary>A tiny decoder folder: the golden weights and config.json, a byte-level BPE tokenizer.json over the
    /// printable ASCII bytes (95 tokens: "Ġ" for the space, '!' … '~') plus two merges ("t h", "Ġ t"), and an empty
    /// tokenizer_config.json.</summary>
    internal string Folder(string family)
    {
        string dir = Path.Combine(fx.NewDir("gen-" + family), family);
        Directory.CreateDirectory(dir);
        using var reader = CheckpointFormats.Open(GoldenPath);
        File.WriteAllText(Path.Combine(dir, "config.json"), reader.Metadata[family + ".config"]);
        string prefix = family + ".w.";
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
            reader.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(t => (t.Name[prefix.Length..], reader.Read(t.Name))).ToList(),
            new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), Tokenizer().ToString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{}");
        return dir;
    }

    /// <summary>The tokenizer's pieces by id: the space, '!' … '~', the two merges' results, and four pieces no merge
    /// makes (ids 97 … 100: GPT-2's golden vocabulary has 101 ids, which generation may pick).</summary>
    private static readonly string[] Pieces =
        [" ", .. Enumerable.Range('!', '~' - '!' + 1).Select(c => ((char)c).ToString()), "th", " t", "ab", "cd", "ef", "gh"];

    private static JObject Tokenizer()
    {
        var vocab = new JObject();
        for (int i = 0; i < Pieces.Length; i++) vocab[Pieces[i].Replace(' ', 'Ġ')] = i;
        return new JObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = new JArray(), ["normalizer"] = null,
            ["pre_tokenizer"] = new JObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = null,
            ["decoder"] = new JObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = new JArray("t h", "Ġ t"),
            },
        };
    }

    /// <summary>Greedy tokens of the folder's model in TorchSharp, recomputing the whole sequence every step.</summary>
    private static List<int> TorchGreedy(string checkpoint, IReadOnlyList<int> prompt, int newTokens)
    {
        using var model = HostFixture.Load(checkpoint);
        using var noGrad = no_grad();
        var ids = prompt.Select(i => (long)i).ToList();
        for (int i = 0; i < newTokens; i++)
        {
            using var scope = NewDisposeScope();
            ids.Add(model.Forward(tensor(ids.ToArray(), [1, ids.Count]))[0, -1].argmax().item<long>());
        }
        return ids.Skip(prompt.Count).Select(v => (int)v).ToList();
    }

    private static JObject Generate(string folder, int newTokens, params string[] extra)
    {
        var (code, stdout, stderr) = HostFixture.Cli(["generate", folder, "--prompt", Prompt, "--max-new-tokens", newTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), "--format", "json", "--verbosity", "q", .. extra]);
        Assert.True(code == 0, stderr);
        return JObject.Parse(stdout);
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("gpt2", false)]
    [InlineData("llama", true)]
    public void GeneratedTokensAreTorchSharpsGreedyTokens(string family, bool rtn4)
    {
        string input = Folder(family), outDir = fx.NewDir("gen-out-" + family);
        var (code, _, stderr) = rtn4
            ? HostFixture.Cli("run", "rtn", "--model", input, "--out", outDir, "--weight-bits", "4", "--group-size", "16", "--verbosity", "q")
            : HostFixture.Cli("export", input, "--out", outDir, "--verbosity", "q");
        Assert.True(code == 0, stderr);
        const int newTokens = 10;
        var json = rtn4 ? Generate(outDir, newTokens, "--optimization", "basic") : Generate(outDir, newTokens);
        var prompt = json["promptTokens"]!.Select(t => (int)t).ToList();
        // "the" → th e; " theory" → Ġ th e o r y ("t h" ranks before "Ġ t").
        int Id(string piece) => Array.IndexOf(Pieces, piece);
        Assert.Equal([Id("th"), Id("e"), Id(" "), Id("th"), Id("e"), Id("o"), Id("r"), Id("y")], prompt);
        var tokens = json["tokens"]!.Select(t => (int)t).ToList();
        Assert.Equal("length", (string?)json["stopReason"]);
        Assert.Equal(newTokens, tokens.Count);
        // The compressed checkpoint rebuilds the model the ONNX graph was written from (rtn's dequantized weights).
        string checkpoint = rtn4 ? Path.Combine(outDir, Pipeline.RunPipeline.CheckpointFile) : input;
        Assert.Equal(TorchGreedy(checkpoint, prompt, newTokens), tokens);
        Assert.Equal(string.Concat(tokens.Select(t => Pieces[t])), (string?)json["text"]);

        var (textCode, text, _) = HostFixture.Cli("generate", outDir, "--prompt", Prompt, "--max-new-tokens", "3", "--verbosity", "q");
        Assert.Equal(0, textCode);
        Assert.StartsWith(Prompt, text);
    }

    [Fact]
    public void StopsAtTheFoldersEndOfSequenceToken()
    {
        string input = Folder("gpt2"), outDir = fx.NewDir("gen-eos");
        Assert.Equal(0, HostFixture.Cli("export", input, "--out", outDir, "--verbosity", "q").Code);
        var free = Generate(outDir, 6)["tokens"]!.Select(t => (int)t).ToList();
        // Make the third generated token the end of sequence: generation stops there, the token included.
        File.WriteAllText(Path.Combine(outDir, "generation_config.json"), new JObject { ["eos_token_id"] = new JArray(free[2]) }.ToString());
        int first = free.IndexOf(free[2]);
        var json = Generate(outDir, 6);
        Assert.Equal("eos", (string?)json["stopReason"]);
        Assert.Equal(free.Take(first + 1), json["tokens"]!.Select(t => (int)t));
    }

    [Fact]
    public void BadFoldersAndOptionsFailInOneLine()
    {
        string input = Folder("llama"), outDir = fx.NewDir("gen-bad");
        Assert.Equal(0, HostFixture.Cli("export", input, "--out", outDir, "--verbosity", "q").Code);
        void Bad(int expected, string contains, params string[] args)
        {
            var (code, stdout, stderr) = HostFixture.Cli(args);
            Assert.True(code == expected, $"exit {code}: {stderr}");
            Assert.Equal("", stdout);
            var line = Assert.Single(stderr.Trim().Split('\n'));
            Assert.StartsWith("error:", line);
            Assert.Contains(contains, line);
        }
        Bad(3, "no onnx/model.onnx", "generate", input, "--prompt", Prompt);
        Bad(3, "no such folder", "generate", Path.Combine(outDir, "missing"), "--prompt", Prompt);
        Bad(2, "--max-new-tokens 0", "generate", outDir, "--prompt", Prompt, "--max-new-tokens", "0");
        Bad(2, "gives no tokens", "generate", outDir, "--prompt", "");

        // A folder of an encoder's graph: not a decoder with a cache.
        string encoder = fx.NewDir("gen-encoder");
        Directory.CreateDirectory(Path.Combine(encoder, "onnx"));
        string bertIn = Folder("llama");
        using (var reader = CheckpointFormats.Open(GoldenPath))
        {
            File.WriteAllText(Path.Combine(bertIn, "config.json"), reader.Metadata["bert.config"]);
            SafetensorsWriter.Write(Path.Combine(bertIn, "model.safetensors"),
                reader.Tensors.Where(t => t.Name.StartsWith("bert.w.", StringComparison.Ordinal)).Select(t => (t.Name["bert.w.".Length..], reader.Read(t.Name))).ToList(),
                new Dictionary<string, string> { ["format"] = "pt" });
        }
        Assert.Equal(0, HostFixture.Cli("export", bertIn, "--out", encoder, "--verbosity", "q").Code);
        Bad(3, "is not a decoder with a key/value cache", "generate", encoder, "--prompt", Prompt);

        File.Delete(Path.Combine(outDir, "tokenizer.json"));
        Bad(3, "no tokenizer.json", "generate", outDir, "--prompt", Prompt);
    }

    [TransformersJsTheory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void TransformersJsTextGenerationPicksTheSameTokens(string family)
    {
        string input = Folder(family), outDir = Path.Combine(fx.NewDir("gen-js"), family + "-onnx");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", input, "--out", outDir, "--weight-bits", "8", "--verbosity", "q");
        Assert.True(code == 0, stderr);
        const int newTokens = 8;
        var ours = Generate(outDir, newTokens);

        var psi = new ProcessStartInfo("node") { WorkingDirectory = TransformersJsFactAttribute.FixtureDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "check.mjs", "text-generation", outDir, newTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), Prompt }) psi.ArgumentList.Add(a);
        using var node = Process.Start(psi)!;
        string json = node.StandardOutput.ReadToEnd(), err = node.StandardError.ReadToEnd();
        Assert.True(node.WaitForExit(120_000), "node did not finish in 2 minutes");
        Assert.True(node.ExitCode == 0, err);
        var theirs = JObject.Parse(json);
        Assert.Equal(ours["promptTokens"]!.Select(t => (int)t), theirs["prompt_tokens"]!.Select(t => (int)t));
        Assert.Equal(ours["tokens"]!.Select(t => (int)t), theirs["tokens"]!.Select(t => (int)t));
        Assert.Equal((string?)ours["text"], (string?)theirs["text"]);
    }
}

/// <summary>A theory that needs transformers.js (see <see cref="TransformersJsFactAttribute"/>); skipped otherwise.</summary>
public sealed class TransformersJsTheoryAttribute : TheoryAttribute
{
    public TransformersJsTheoryAttribute()
    {
        if (!Directory.Exists(Path.Combine(TransformersJsFactAttribute.FixtureDirectory, "node_modules", "@huggingface", "transformers")))
            Skip = $"transformers.js is not installed: run 'npm ci' in {TransformersJsFactAttribute.FixtureDirectory} (.ci/run does)";
    }
}
