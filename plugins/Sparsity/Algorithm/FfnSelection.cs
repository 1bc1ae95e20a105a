using System.Text.RegularExpressions;
using Compressor.Sdk;
using Compressor.Sdk.Models;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Which linears the plugin rewrites. Without --include: the feed-forward linears of transformers by their
/// usual names — GPT-2 <c>mlp.c_fc</c>/<c>mlp.c_proj</c>, timm ViT <c>mlp.fc1</c>/<c>mlp.fc2</c>, BERT/MiniLM
/// <c>intermediate.dense</c>/<c>output.dense</c> (not <c>attention.output.dense</c>), and the SwiGLU triple of the Llama
/// family <c>mlp.gate_proj</c>/<c>up_proj</c>/<c>down_proj</c> (each sized by the same per-linear arithmetic, README
/// "Gated feed-forwards"). With --include: every
/// matching linear. --exclude applies after both. The first transformer layer (the lowest first number in the
/// names) is then dropped when asked.</summary>
public static partial class FfnSelection
{
    /// <summary>The default FFN name globs.</summary>
    public static readonly string[] FfnGlobs = ["*mlp.c_fc", "*mlp.c_proj", "*mlp.fc1", "*mlp.fc2", "*intermediate.dense", "*output.dense",
        "*mlp.gate_proj", "*mlp.up_proj", "*mlp.down_proj"];

    [GeneratedRegex(@"(^|\.)(\d+)(\.|$)", RegexOptions.CultureInvariant)]
    private static partial Regex LayerNumber();

    /// <summary>The selected linears, in model order.</summary>
    /// <exception cref="CompressException">Nothing matches.</exception>
    public static IReadOnlyList<LayerInfo> Select(CompressibleModel model, string[] include, string[] exclude, bool firstLayerDense, out IReadOnlyList<string> keptDense)
    {
        var globs = include.Length > 0 ? include : FfnGlobs;
        var layers = model.Select(LayerType.Linear, new LayerSelector(globs, exclude))
            .Where(l => include.Length > 0 || !l.Name.Contains("attention.output.dense", StringComparison.Ordinal))
            .ToList();
        keptDense = [];
        if (layers.Count == 0 && StreamedUnit(model)) return layers;   // the head of a streamed run: no feed-forward there
        if (layers.Count == 0)
            throw new CompressException(ErrorKind.InvalidOptions, include.Length > 0
                ? "sparsity: no linear layer matches --include/--exclude"
                : "sparsity: no feed-forward linear found by name (mlp.c_fc/c_proj, mlp.fc1/fc2, intermediate.dense/output.dense, mlp.gate_proj/up_proj/down_proj): pass --include");
        var kept = new List<string>();
        if (firstLayerDense)
        {
            // The first transformer layer is the one numbered 0 (every architecture compress builds or imports counts its
            // layers from 0). Named by its number, not as the lowest number present, so that one block of a streamed run
            // (model.layers.3 alone) decides as that block does inside the whole model.
            kept = layers.Where(l => Number(l.Name) == 0).Select(l => l.Name).ToList();
            layers = layers.Where(l => Number(l.Name) != 0).ToList();
            if (layers.Count == 0 && !StreamedUnit(model))
                throw new CompressException(ErrorKind.InvalidOptions, "sparsity: every selected linear belongs to the first layer, which --first-layer-dense keeps dense");
        }
        keptDense = kept;
        return layers;
    }

    /// <summary>Whether <paramref name="model"/> is one unit of a streamed run: a transformer layout of a single block
    /// without the embeddings and heads a whole model has, or of no block at all (the head unit). Such a unit may hold
    /// nothing to rewrite (the first block under --first-layer-dense, the head), which is then no error.</summary>
    public static bool StreamedUnit(CompressibleModel model) =>
        model.Transformer is { } t && (t.Blocks.Count == 0 || (t.Blocks.Count == 1 && t.Inputs.Count == 0 && t.Heads.Count == 0));

    /// <summary>The first integer component of a dotted name (the block index), or null.</summary>
    public static int? Number(string name)
    {
        var m = LayerNumber().Match(name);
        return m.Success ? int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }
}
