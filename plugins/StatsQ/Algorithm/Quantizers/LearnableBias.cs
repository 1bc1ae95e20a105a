using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Quantizers;

/// <summary>A learnable per-feature shift added to an activation (OFQ's <c>LearnableBias</c>, ReActNet style): each
/// activation quantizer sits between two of these ("move_b4" before, "move_aft" after). Starts at zero.</summary>
public sealed class LearnableBias : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates a zero shift of <paramref name="features"/> entries.</summary>
    public LearnableBias(long features, Device? device = null) : base("bias")
    {
        register_parameter("bias", new TorchSharp.Modules.Parameter(zeros(features, device: device)));
    }

    /// <summary>The shift.</summary>
    public TorchSharp.Modules.Parameter Bias => get_parameter("bias")!;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => x.add(Bias);
}
