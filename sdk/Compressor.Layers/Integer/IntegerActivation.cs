using static TorchSharp.torch;

namespace Compressor.Layers.Integer;

/// <summary>The 8-bit input quantizers of <see cref="IntegerLayer"/> in TorchSharp, computed exactly as the ONNX
/// operators of its lowering do (division by the scale, round half to even, saturation), so that the model and its
/// export agree code for code.</summary>
public static class IntegerActivation
{
    /// <summary>The smallest per-token scale: a row of zeros keeps codes 0 with any scale, so this only avoids 0/0.</summary>
    public const float MinimumTokenScale = 1e-30f;

    /// <summary>Static: <c>(clamp(round(x/s) + z, 0, 255) − z)·s</c> (ONNX QuantizeLinear to uint8, then DequantizeLinear).</summary>
    public static Tensor Static(Tensor x, float scale, int zeroPoint)
    {
        using var scope = NewDisposeScope();
        var q = x.div(scale).round().add(zeroPoint).clamp(0, 255);
        return q.sub(zeroPoint).mul(scale).MoveToOuterDisposeScope();
    }

    /// <summary>The uint8 codes of <see cref="Static"/> (as float).</summary>
    public static Tensor StaticCodes(Tensor x, float scale, int zeroPoint)
    {
        using var scope = NewDisposeScope();
        return x.div(scale).round().add(zeroPoint).clamp(0, 255).MoveToOuterDisposeScope();
    }

    /// <summary>Dynamic per token: s = max(max|x| over the last axis / 127, <see cref="MinimumTokenScale"/>) per row;
    /// <c>round(x/s)·s</c>.</summary>
    public static Tensor PerToken(Tensor x)
    {
        using var scope = NewDisposeScope();
        var s = TokenScale(x);
        return x.div(s).round().clamp(-128, 127).mul(s).MoveToOuterDisposeScope();
    }

    /// <summary>The per-row scales of <see cref="PerToken"/>, [..., 1].</summary>
    public static Tensor TokenScale(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.abs().amax([-1L], keepdim: true).div(127f).clamp_min(MinimumTokenScale).MoveToOuterDisposeScope();
    }

    /// <summary>Dynamic per tensor, as ONNX DynamicQuantizeLinear: with lo = min(0, min x), hi = max(0, max x),
    /// s = (hi − lo)/255 (1 when 0), z = clamp(round(−lo/s), 0, 255); <c>(clamp(round(x/s) + z, 0, 255) − z)·s</c>.</summary>
    public static Tensor PerTensor(Tensor x)
    {
        var (s, z) = TensorScale(x);
        return Static(x, s, z);
    }

    /// <summary>The scale and zero point of <see cref="PerTensor"/>.</summary>
    public static (float Scale, int ZeroPoint) TensorScale(Tensor x)
    {
        using var scope = NewDisposeScope();
        float lo = Math.Min(0f, x.min().item<float>()), hi = Math.Max(0f, x.max().item<float>());
        float s = (hi - lo) / 255f;
        if (s == 0) s = 1;
        int z = (int)Math.Clamp(Math.Round(-lo / s, MidpointRounding.ToEven), 0, 255);
        return (s, z);
    }
}
