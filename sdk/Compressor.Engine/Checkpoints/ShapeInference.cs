using System.Text.RegularExpressions;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Checkpoints;

/// <summary>The sizes of a foreign checkpoint that has no config, read from its tensor shapes where they determine
/// them: timm ViT/DeiT (width, depth, patch, image size, channels, MLP ratio, classes, distillation token, q/k/v
/// biases from <c>patch_embed.proj</c>, <c>pos_embed</c>, <c>blocks.N</c>, <c>mlp.fc1</c>, <c>head</c>) and Hugging Face
/// GPT-2 (vocabulary, context, width, depth, inner width). Shapes never tell the number of attention heads: it is
/// <c>--heads</c>, else width/64 (the head width of every published timm ViT/DeiT and GPT-2 size) when the width is a
/// multiple of 64, else an error asking for <c>--heads</c>. Families whose shapes leave more open (BERT's heads and
/// norms, the Llama family's rotary settings) need their <c>config.json</c>: the error names the keys.</summary>
public static partial class ShapeInference
{
    [GeneratedRegex(@"^blocks\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex VitBlock();

    [GeneratedRegex(@"^(transformer\.)?h\.(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Block();

    /// <summary>The spec of the checkpoint of family <paramref name="family"/> (a <see cref="ArchitectureDetector"/>
    /// name: <c>vit</c>, <c>gpt2</c>, <c>bert</c>, <c>llama</c>, …) with tensors <paramref name="tensors"/>; null
    /// when the family is not one of the transformers above (a plain built-in such as mlp keeps its --arch defaults).</summary>
    /// <exception cref="CompressException">Shapes that do not determine the sizes, in one line naming what is missing.</exception>
    public static ArchitectureSpec? Infer(string family, IReadOnlyList<CheckpointEntry> tensors, int? heads, string path)
    {
        var shapes = tensors.ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);
        long[] Shape(string name, int rank) => shapes.TryGetValue(name, out var s) && s.Length == rank
            ? s : throw new CompressException(ErrorKind.InvalidInput, $"{path}: tensor '{name}' {(shapes.ContainsKey(name) ? $"is not of rank {rank}" : "is missing")}; cannot infer the {family} sizes");
        int Heads(long dim, string what)
        {
            if (heads is { } h)
            {
                if (h < 1 || dim % h != 0) throw new CompressException(ErrorKind.InvalidOptions, $"--heads {h} does not divide the {what} width {dim}");
                return h;
            }
            if (dim % 64 == 0) return (int)(dim / 64);
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: the number of attention heads of a {what} of width {dim} cannot be read from its tensors: pass --heads");
        }

        switch (family)
        {
            case "vit" or "deit":
            {
                var patch = Shape("patch_embed.proj.weight", 4);
                long dim = patch[0], channels = patch[1], p = patch[2];
                if (patch[3] != p) throw new CompressException(ErrorKind.InvalidInput, $"{path}: non-square patches {p}×{patch[3]} are not supported");
                bool distilled = shapes.ContainsKey("dist_token");
                var pos = Shape("pos_embed", 3);
                long tokens = pos[1] - (distilled ? 2 : 1);
                long side = (long)Math.Round(Math.Sqrt(tokens));
                if (side * side != tokens) throw new CompressException(ErrorKind.InvalidInput, $"{path}: pos_embed holds {pos[1]} positions, not a square grid of patches plus class token(s)");
                int depth = tensors.Select(t => VitBlock().Match(t.Name)).Where(m => m.Success).Select(m => m.Groups[1].Value).Distinct().Count();
                var fc1 = Shape("blocks.0.mlp.fc1.weight", 2);
                if (fc1[0] % dim != 0) throw new CompressException(ErrorKind.InvalidInput, $"{path}: MLP width {fc1[0]} is not a multiple of the width {dim}");
                var head = Shape("head.weight", 2);
                var config = new JObject
                {
                    ["imageSize"] = side * p, ["patchSize"] = p, ["inChannels"] = channels, ["dim"] = dim, ["depth"] = depth,
                    ["heads"] = Heads(dim, "ViT"), ["mlpRatio"] = fc1[0] / dim, ["classes"] = head[0], ["distilled"] = distilled,
                    ["qkvBias"] = shapes.ContainsKey("blocks.0.attn.qkv.bias"),
                };
                return ArchitectureRegistry.Spec("vit", config);
            }
            case "gpt2" or "gpt":
            {
                string prefix = shapes.ContainsKey("transformer.wte.weight") ? "transformer." : "";
                var wte = Shape(prefix + "wte.weight", 2);
                var wpe = Shape(prefix + "wpe.weight", 2);
                long dim = wte[1];
                int layers = tensors.Select(t => Gpt2Block().Match(t.Name)).Where(m => m.Success).Select(m => m.Groups[2].Value).Distinct().Count();
                var fc = Shape(prefix + "h.0.mlp.c_fc.weight", 2);   // Conv1D [in, out]
                var config = new JObject
                {
                    ["vocabSize"] = wte[0], ["context"] = wpe[0], ["dim"] = dim, ["layers"] = layers, ["heads"] = Heads(dim, "GPT-2"),
                    ["mlpRatio"] = 4, ["inner"] = fc[1],
                };
                return ArchitectureRegistry.Spec("gpt", config);
            }
            case "bert":
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{path}: a BERT checkpoint needs its config.json (num_attention_heads, layer_norm_eps, hidden_act cannot be read from tensors): pass the model folder");
            case "llama" or "qwen2" or "mistral":
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{path}: a Llama-family checkpoint needs its config.json (num_attention_heads, num_key_value_heads, rope_theta, rope_scaling, rms_norm_eps cannot be read from tensors): pass the model folder");
            default:
                return null;
        }
    }
}
