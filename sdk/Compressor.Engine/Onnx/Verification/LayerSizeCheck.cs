namespace Compressor.Engine.Onnx.Verification;

/// <summary>One compressed layer's tensors in the exported file against theory.</summary>
/// <param name="Layer">The layer's fully qualified name.</param>
/// <param name="Kind">Its compressed kind.</param>
/// <param name="Bytes">Raw tensor bytes its initializers take in the file (codes, scales, zero points, bias).</param>
/// <param name="TheoreticalBytes">count·bits/8 + scales + zero points + float32 bias.</param>
public sealed record LayerSizeCheck(string Layer, string Kind, long Bytes, long TheoreticalBytes)
{
    /// <summary>Bytes / theoretical bytes.</summary>
    public double Ratio => TheoreticalBytes == 0 ? 1 : (double)Bytes / TheoreticalBytes;
}
