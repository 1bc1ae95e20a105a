using System.Text.RegularExpressions;
using Compressor.Engine.Models;

namespace Compressor.Engine.Checkpoints;

/// <summary>Recognises a checkpoint's architecture from its metadata (a file written by <c>compress</c> names its
/// built-in architecture) or, failing that, from the tensor-name patterns of the public ecosystems:
/// timm ViT/DeiT (<c>patch_embed.proj</c>, <c>blocks.N.attn.qkv</c>), Hugging Face GPT-2
/// (<c>transformer.h.N.attn.c_attn</c>), Hugging Face BERT (<c>encoder.layer.N.attention.self.query</c>) and
/// torchvision/timm ResNet (<c>layer1.0.conv1</c>). Names may carry a wrapper prefix (<c>module.</c>, <c>bert.</c>, …).</summary>
public static partial class ArchitectureDetector
{
    [GeneratedRegex(@"(^|\.)blocks\.(\d+)\.attn\.qkv\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex VitBlock();

    [GeneratedRegex(@"(^|\.)h\.(\d+)\.attn\.c_attn\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex Gpt2Block();

    [GeneratedRegex(@"(^|\.)encoder\.layer\.(\d+)\.attention\.self\.query\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex BertLayer();

    [GeneratedRegex(@"(^|\.)layers\.(\d+)\.self_attn\.q_proj\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex LlamaLayer();

    [GeneratedRegex(@"(^|\.)layer([1-4])\.(\d+)\.conv1\.weight$", RegexOptions.CultureInvariant)]
    private static partial Regex ResNetBlock();

    /// <summary>The architecture of a checkpoint with tensors <paramref name="names"/> and <paramref name="metadata"/>,
    /// or null when nothing matches.</summary>
    public static DetectedArchitecture? Detect(IReadOnlyCollection<string> names, IReadOnlyDictionary<string, string> metadata)
    {
        ArchitectureSpec? spec = null;
        string? key = null;
        try
        {
            if (metadata.TryGetValue(CompressionManifest.MetadataKey, out var mj) && CompressionManifest.FromJson(mj).Architecture is { } a)
                (spec, key) = (a, CompressionManifest.MetadataKey);
            else if (metadata.TryGetValue(ArchitectureSpec.MetadataKey, out var aj))
                (spec, key) = (ArchitectureSpec.FromJson(aj), ArchitectureSpec.MetadataKey);
        }
        catch (CompressException)
        {
            spec = null;
        }
        if (spec is not null)
            return new DetectedArchitecture(spec.Name, $"built-in {spec.Name}", $"metadata '{key}'", null);

        DetectedArchitecture? ByBlocks(Regex pattern, int group, string name, string family, Func<bool>? also = null)
        {
            var matches = names.Select(n => (Name: n, Match: pattern.Match(n))).Where(m => m.Match.Success).ToList();
            if (matches.Count == 0 || (also is not null && !also())) return null;
            int depth = matches.Select(m => m.Match.Groups[group].Value).Distinct().Count();
            return new DetectedArchitecture(name, family, $"tensor '{matches[0].Name}'", depth);
        }

        bool HasSuffix(string suffix) => names.Any(n => n == suffix || n.EndsWith("." + suffix, StringComparison.Ordinal));

        return ByBlocks(VitBlock(), 2, "vit", "timm ViT/DeiT", () => HasSuffix("patch_embed.proj.weight"))
               ?? ByBlocks(Gpt2Block(), 2, "gpt2", "Hugging Face GPT-2")
               ?? ByBlocks(BertLayer(), 2, "bert", "Hugging Face BERT")
               ?? ByBlocks(LlamaLayer(), 2, "llama", "Hugging Face Llama family", () => names.Any(n => n.EndsWith("mlp.gate_proj.weight", StringComparison.Ordinal)))
               ?? ResNet();

        DetectedArchitecture? ResNet()
        {
            var matches = names.Where(n => ResNetBlock().IsMatch(n)).ToList();
            if (matches.Count == 0 || !HasSuffix("conv1.weight")) return null;
            return new DetectedArchitecture("resnet", "torchvision/timm ResNet", $"tensor '{matches[0]}'", matches.Count);
        }
    }
}
