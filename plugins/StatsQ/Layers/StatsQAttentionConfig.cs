namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>The config of a <see cref="StatsQAttention"/>.</summary>
/// <param name="Dim">Model width C.</param>
/// <param name="Heads">Heads (they divide C).</param>
/// <param name="Qkr">Query–key reparameterized (parts act_in, qk, t_quant, v, v_quant, attn_quant, proj) or plain
/// (qkv, q_quant, k_quant, v_quant, attn_quant, proj).</param>
/// <param name="QueryBiasKey">Whether the buffer <c>query_bias_key</c> [heads, C] is stored.</param>
/// <param name="Parts">The parts by name.</param>
public sealed record StatsQAttentionConfig(long Dim, int Heads, bool Qkr, bool QueryBiasKey, IReadOnlyDictionary<string, StatsQAttentionPart> Parts)
{
    /// <summary>Checks the ranges (one-line <see cref="Compressor.Sdk.CompressException"/>).</summary>
    public void Validate()
    {
        const string what = StatsQAttentionKind.KindId;
        StatsQConfigChecks.Range(what, "dim", Dim, 1, 1 << 20);
        StatsQConfigChecks.Range(what, "heads", Heads, 1, 1 << 12);
        if (Dim % Heads != 0)
            throw new Compressor.Sdk.CompressException(Compressor.Sdk.ErrorKind.InvalidInput, $"{what}: compressed layer config 'heads' {Heads} does not divide 'dim' {Dim}");
        foreach (var part in Parts.Values)
        {
            part.Linear?.Validate(what);
            part.Quantizer?.Validate(what);
        }
    }
}
