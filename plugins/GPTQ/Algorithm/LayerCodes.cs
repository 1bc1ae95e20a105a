using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>A quantized weight matrix in the layers library's terms: codes [rows, cols] (int32; signed for a symmetric
/// grid, unsigned otherwise), scales [rows, groups] (float32), zero points [rows, groups] (int32, asymmetric only), and
/// what the solver measured.</summary>
/// <param name="Codes">Integer codes.</param>
/// <param name="Scales">Scales per row and group.</param>
/// <param name="ZeroPoints">Zero points per row and group, or null when symmetric.</param>
/// <param name="Loss">GPTQ's loss Σ (w − q)²/[U]ᵢᵢ² / 2 over all weights (0 for nearest rounding).</param>
/// <param name="DampUsed">The dampening λ the factorisation succeeded with (NaN for nearest rounding).</param>
public sealed record LayerCodes(Tensor Codes, Tensor Scales, Tensor? ZeroPoints, double Loss, double DampUsed) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose()
    {
        Codes.Dispose();
        Scales.Dispose();
        ZeroPoints?.Dispose();
    }
}
