using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Compressor.Sdk.Models;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;

namespace Compressor.Engine.Tests;

public sealed class ArchitectureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("arch-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CompressibleModel Build(string preset, JObject? overrides = null)
    {
        var spec = ArchitectureRegistry.Preset(preset)!;
        if (overrides is not null) spec = ArchitectureRegistry.Spec(spec.Name, new JObject(spec.Config.Properties().Concat(overrides.Properties()).GroupBy(p => p.Name).Select(g => g.Last())));
        return ArchitectureRegistry.CreateModel(spec, TestKinds.All);
    }

    [Fact]
    public void DeitTinyHasTimmNamesAndParameterCount()
    {
        using var model = Build("deit-tiny");
        var names = model.NamedTensors().Select(t => t.Name).ToList();
        Assert.Equal(["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "blocks.0.norm1.weight", "blocks.0.norm1.bias",
            "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight",
            "blocks.0.norm2.bias", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"], names.Take(16));
        Assert.Contains("blocks.11.mlp.fc2.bias", names);
        Assert.Equal(["norm.weight", "norm.bias", "head.weight", "head.bias"], names.TakeLast(4));
        // timm's deit_tiny_patch16_224 has 5,717,416 parameters.
        Assert.Equal(5_717_416, model.ParameterCount());
    }

    [Fact]
    public void DistilledDeitSmallHasDistTokenAndHead()
    {
        using var model = Build("deit-small", new JObject { ["distilled"] = true });
        var names = model.NamedTensors().Select(t => t.Name).ToHashSet();
        Assert.Contains("dist_token", names);
        Assert.Contains("head_dist.weight", names);
        // timm's deit_small_distilled_patch16_224 has 22,436,432 parameters.
        Assert.Equal(22_436_432, model.ParameterCount());
    }

    [Fact]
    public void Gpt2PresetMatchesHuggingFaceShapes()
    {
        using var model = Build("gpt2");
        var t = model.NamedTensors().ToDictionary(x => x.Name, x => x.Tensor.shape);
        Assert.Equal(new long[] { 50257, 768 }, t["transformer.wte.weight"]);
        Assert.Equal(new long[] { 1024, 768 }, t["transformer.wpe.weight"]);
        Assert.Equal(new long[] { 2304, 768 }, t["transformer.h.0.attn.c_attn.weight"]);
        Assert.Equal(new long[] { 768 }, t["transformer.ln_f.bias"]);
        Assert.DoesNotContain("lm_head.weight", t.Keys);
        // Hugging Face's gpt2 has 124,439,808 parameters (the head is tied to wte).
        Assert.Equal(124_439_808, model.ParameterCount());
    }

    [Fact]
    public void HuggingFaceGpt2StateDictLoadsWithoutRenaming()
    {
        var config = new JObject { ["vocabSize"] = 50, ["context"] = 16, ["dim"] = 32, ["layers"] = 2, ["heads"] = 4 };
        var spec = ArchitectureRegistry.Spec("gpt", config);
        using var reference = ArchitectureRegistry.CreateModel(spec, TestKinds.All);
        // Write it the way transformers' GPT2LMHeadModel.save_pretrained(safe_serialization=True) lays it out:
        // Conv1D weights as [in, out], the tied lm_head, and each layer's causal-mask buffer.
        var hf = new List<(string, Tensor)>();
        foreach (var (name, tensor) in reference.NamedTensors())
        {
            bool conv1d = name.EndsWith(".weight") && (name.Contains("c_attn") || name.Contains("c_proj") || name.Contains("c_fc"));
            hf.Add((name, conv1d ? tensor.t().contiguous() : tensor));
        }
        for (int i = 0; i < 2; i++) hf.Add(($"transformer.h.{i}.attn.bias", ones(1, 1, 16, 16).tril()));
        hf.Add(("lm_head.weight", reference.NamedTensors().First(x => x.Name == "transformer.wte.weight").Tensor));
        string path = Path.Combine(_dir, "gpt2-hf.safetensors");
        SafetensorsWriter.Write(path, hf, new Dictionary<string, string> { ["format"] = "pt" });
        using var loaded = ModelIO.Load(path, TestKinds.All, spec);
        using var ids = tensor(new long[] { 1, 5, 7, 3, 49, 0 }).reshape(1, 6);
        Tolerances.AssertIdentical(reference.Forward(ids), loaded.Forward(ids), "logits");
    }

    [Fact]
    public void TimmVitStateDictLoadsWithoutRenaming()
    {
        var spec = ArchitectureRegistry.Spec("vit", new JObject { ["imageSize"] = 8, ["patchSize"] = 4, ["dim"] = 32, ["depth"] = 2, ["heads"] = 2 });
        using var reference = ArchitectureRegistry.CreateModel(spec, TestKinds.All);
        string path = Path.Combine(_dir, "vit-timm.safetensors");
        SafetensorsWriter.Write(path, reference.NamedTensors());
        using var loaded = ModelIO.Load(path, TestKinds.All, spec);
        using var x = TinyModels.Inputs([3, 1, 8, 8]);
        Tolerances.AssertIdentical(reference.Forward(x), loaded.Forward(x), "logits");
    }

    [Fact]
    public void GptIsCausal()
    {
        using var model = Build("gpt-tiny", new JObject { ["layers"] = 1, ["dim"] = 32, ["heads"] = 2 });
        using var a = tensor(new long[] { 1, 2, 3, 4 }).reshape(1, 4);
        using var b = tensor(new long[] { 1, 2, 3, 9 }).reshape(1, 4);
        using var ya = model.Forward(a);
        using var yb = model.Forward(b);
        Tolerances.AssertClose(ya[0, ..3], yb[0, ..3], rtol: 0, atol: 1e-6, "earlier positions ignore later tokens");
        Assert.False(ya[0, 3].allclose(yb[0, 3]));
    }

    [Fact]
    public void AttentionLayersAreReplaceable()
    {
        using var model = Build("vit-digits");
        var kinds = model.Layers().Select(l => l.Name).ToList();
        Assert.Contains("blocks.0.attn.qkv", kinds);
        Assert.Contains("blocks.3.mlp.fc2", kinds);
        Assert.Contains("patch_embed.proj", kinds);
        model.ReplaceLayer("blocks.0.mlp.fc1", nn.Linear(64, 128));
        using var y = model.Forward(TinyModels.Inputs([2, 1, 8, 8]));
        Assert.Equal(new long[] { 2, 10 }, y.shape);
    }
}

public sealed class VitInitialisationTests
{
    [Fact]
    public void WeightsAndTokensAreDrawnNotConstant()
    {
        // Guards against TorchSharp 0.107's nn.init.trunc_normal_, which fills a tensor with one constant.
        var spec = ArchitectureRegistry.Spec("vit", new JObject { ["dim"] = 64, ["depth"] = 1, ["heads"] = 2 });
        using var model = ArchitectureRegistry.CreateModel(spec, TestKinds.All);
        foreach (var name in new[] { "pos_embed", "blocks.0.attn.qkv.weight", "head.weight" })
        {
            var t = model.NamedTensors().Single(x => x.Name == name).Tensor;
            Assert.True(t.unique().Item1.numel() > t.numel() / 2, $"{name} has few distinct values");
            Assert.InRange(t.std().item<float>(), 0.017, 0.023);
        }
    }
}
