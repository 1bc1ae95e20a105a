using Compressor.Engine.Checkpoints;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>A dense two-block Llama (hidden 64, GQA 4/2 heads, SwiGLU 128) at a fixed seed and a character corpus to
/// calibrate it on: the inputs of the pre-merge tests, written to a fresh folder.</summary>
internal static class TinyLlamaInputs
{
    /// <summary>Writes the checkpoint and the corpus under <paramref name="dir"/>; returns their paths and the
    /// <c>--data</c> spec that reads the corpus character by character.</summary>
    public static (string Checkpoint, string Text, string Data) Write(string dir)
    {
        string text = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 60)));
        string dense = Path.Combine(dir, "llama.safetensors");
        manual_seed(7);
        var spec = ArchitectureRegistry.Spec("llama", new JObject { ["vocabSize"] = 28, ["hidden"] = 64, ["layers"] = 2, ["heads"] = 4, ["kvHeads"] = 2, ["intermediate"] = 128 });
        using (var model = ArchitectureRegistry.CreateModel(spec, HostFixture.Kinds)) ModelIO.Save(model, dense);
        return (dense, text, $"text:{text},tokenizer=char,context=16");
    }
}
