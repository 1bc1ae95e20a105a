using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Verification;

/// <summary>Stands in for a layer during verification and keeps a float32 copy of its output. Containers look
/// children up by name at every forward (and call <c>forward</c> directly, so TorchSharp's forward hooks would not
/// fire): swapping this in with <see cref="Sdk.Models.CompressibleModel.ReplaceLayer"/> sees every layer's output. The
/// wrapped layer is held, not registered, so disposing the wrapper never disposes it.</summary>
internal sealed class CapturingLayer(nn.Module<Tensor, Tensor> inner) : nn.Module<Tensor, Tensor>(nameof(CapturingLayer))
{
    public nn.Module<Tensor, Tensor> Inner => inner;

    public (float[] Values, long[] Shape)? Captured { get; private set; }

    public override Tensor forward(Tensor input)
    {
        var y = inner.forward(input);
        using var copy = y.detach().cpu().to_type(ScalarType.Float32).contiguous();
        Captured = (copy.data<float>().ToArray(), copy.shape);
        return y;
    }
}
