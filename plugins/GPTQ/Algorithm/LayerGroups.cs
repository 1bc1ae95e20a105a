namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>Groups a block's captured layers by the value they read (README "Calibration"): layers whose first
/// inputs have the same fingerprint read one value (q, k and v; a feed-forward's gate and up), in the order the block
/// first ran them.</summary>
public static class LayerGroups
{
    /// <summary>The groups of <paramref name="captures"/> (layer name → its stand-in after one pass), in execution order.</summary>
    public static IReadOnlyList<IReadOnlyList<string>> Of(IReadOnlyDictionary<string, InputCapture> captures) =>
        captures.Where(kv => kv.Value.Count > 0)
            .GroupBy(kv => kv.Value.Fingerprint)
            .Select(g => (First: g.Min(kv => kv.Value.FirstUse), Names: (IReadOnlyList<string>)g.OrderBy(kv => kv.Value.FirstUse).Select(kv => kv.Key).ToList()))
            .OrderBy(g => g.First)
            .Select(g => g.Names)
            .ToList();
}
