using Compressor.Sdk.Reports;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>Named numeric assertions (copied from the conformance kit, which is not migrated yet): SQNR in dB for
/// quantizers (≈ 6.02 dB per bit for a uniform grid), and absolute/relative tolerances for exact math.</summary>
internal static class Tolerances
{
    /// <summary>Asserts 20·log10(‖expected‖/‖expected − actual‖) ≥ <paramref name="minDb"/>.</summary>
    public static double AssertSqnrAtLeast(Tensor expected, Tensor actual, double minDb, string what)
    {
        double db = Sqnr.Db(expected, actual);
        Assert.True(db >= minDb, $"{what}: SQNR {db:F2} dB is below the required {minDb:F2} dB");
        return db;
    }

    /// <summary>Asserts |expected − actual| ≤ atol + rtol·|expected| elementwise.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var e = expected.to_type(ScalarType.Float64);
        var a = actual.to_type(ScalarType.Float64);
        var excess = a.sub(e).abs().sub(e.abs().mul(rtol).add(atol));
        double worst = excess.numel() == 0 ? double.NegativeInfinity : excess.max().item<double>();
        double maxAbs = a.numel() == 0 ? 0 : a.sub(e).abs().max().item<double>();
        Assert.True(worst <= 0, $"{what}: max abs error {maxAbs:G4} exceeds atol {atol:G3} + rtol {rtol:G3}·|expected|");
    }

    /// <summary>Asserts two tensors are bitwise identical (same shape, dtype and bytes).</summary>
    public static void AssertIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        using var e = expected.cpu().contiguous();
        using var a = actual.cpu().contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{what}: tensors differ");
    }
}
