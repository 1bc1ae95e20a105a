using Compressor.Plugins.StatsQ.Algorithm.Quantizers;
using Compressor.Sdk.Options;

namespace Compressor.Plugins.StatsQ.Algorithm;

/// <summary>Options of the <c>statsq</c> plugin (README "Training": defaults follow the reference recipe, scaled to
/// small CPU runs where noted).</summary>
public sealed record StatsQOptions : PluginOptions
{
    /// <summary>Weight bits of the transformer-block linears.</summary>
    [Option("Weight bits of the transformer-block linears (the OFQ paper: 2, 3, 4).", Min = 2, Max = 8)]
    public int WeightBits { get; init; } = 4;

    /// <summary>Activation bits inside the blocks.</summary>
    [Option("Activation bits of the inputs of those linears and of the attention internals.", Min = 2, Max = 8, Aliases = ["ActBits"])]
    public int ActivationBits { get; init; } = 4;

    /// <summary>Weight and activation bits at once; 0 leaves <see cref="WeightBits"/> and <see cref="ActivationBits"/> as given.</summary>
    [Option("Weight and activation bits at once (--bits 2 is W2A2); 0 keeps --weight-bits and --activation-bits.", Min = 0, Max = 8)]
    public int Bits { get; init; }

    /// <summary>The options with <see cref="Bits"/> applied to both widths.</summary>
    public StatsQOptions Resolved() => Bits > 0 ? this with { WeightBits = Bits, ActivationBits = Bits, Bits = 0 } : this;

    /// <summary>Weight quantizer: StatsQ (the method) or LSQ (the baseline, learnable per-row scale).</summary>
    [Option("Weight quantizer of the block linears: statsq (the method) or lsq (the baseline with a learnable per-row scale).")]
    public WeightQuantizerKind Quantizer { get; init; } = WeightQuantizerKind.StatsQ;

    /// <summary>Query–key reparameterization.</summary>
    [Option("Query-key reparameterization: quantize W_qk = W_q^T W_k per head instead of W_q and W_k separately.")]
    public bool Qkr { get; init; } = true;

    /// <summary>Keep the q bias term b_qᵀW_k x_j under QKR (the reference drops the q/k biases).</summary>
    [Option("With --qkr, keep the query-bias term b_q^T W_k x_j exactly (the reference drops q/k biases, which changes a pretrained model's logits).")]
    public bool KeepQueryBias { get; init; }

    /// <summary>Run confidence-guided annealing after the main QAT.</summary>
    [Option("Run confidence-guided annealing after the main QAT: per step, freeze weights farther than --cga-boundary from every rounding threshold.")]
    public bool Cga { get; init; } = true;

    /// <summary>CGA boundary range BR in level units.</summary>
    [Option("CGA boundary range BR (distance to a threshold, in quantization levels); the paper's best is 0.005.", Min = 1e-6, Max = 0.5)]
    public double CgaBoundary { get; init; } = 0.005;

    /// <summary>CGA epochs (at the constant final learning rate).</summary>
    [Option("Epochs of CGA at the constant final learning rate (the reference: 30 after 300 of QAT).", Min = 0, Max = 10_000)]
    public int CgaEpochs { get; init; } = 2;

    /// <summary>QAT epochs.</summary>
    [Option("Epochs of quantization-aware training (cosine schedule with warm-up).", Min = 0, Max = 10_000)]
    public int Epochs { get; init; } = 10;

    /// <summary>Peak learning rate.</summary>
    [Option("Peak AdamW learning rate (the reference: 5.47e-4 for DeiT at batch 560).", Min = 1e-8, Max = 1, Aliases = ["Lr"])]
    public double LearningRate { get; init; } = 5e-4;

    /// <summary>Final (and CGA) learning rate.</summary>
    [Option("Final learning rate of the cosine schedule, also the constant CGA learning rate (the reference: 1e-5).", Min = 0, Max = 1, Aliases = ["MinLr"])]
    public double MinLearningRate { get; init; } = 1e-5;

    /// <summary>AdamW weight decay.</summary>
    [Option("AdamW weight decay (the reference: 0.05).", Min = 0, Max = 1)]
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>Batch size.</summary>
    [Option("Samples per step.", Min = 1, Max = 1 << 16)]
    public int BatchSize { get; init; } = 64;

    /// <summary>Knowledge distillation from the FP model.</summary>
    [Option("Distil from the full-precision model: hard cross-entropy + soft cross-entropy with the teacher's softmax, equal weights (the reference loss).")]
    public bool Kd { get; init; } = true;

    /// <summary>Bits of the patch embedding and heads.</summary>
    [Option("Bits of the patch embedding and classifier heads (weights and inputs, LSQ); the reference keeps them at 8.", Min = 2, Max = 8)]
    public int FirstLastBits { get; init; } = 8;

    /// <summary>Steps of history for the oscillation metrics.</summary>
    [Option("Window (steps) for the 'reversed at least once recently' oscillation metric (the spec: 200).", Min = 1, Max = 1_000_000)]
    public int OscillationWindow { get; init; } = 200;

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        if (Bits == 1) yield return "--bits must be 0 (unset) or 2..8";
        if (Epochs == 0 && (!Cga || CgaEpochs == 0)) yield return "--epochs 0 with no CGA epochs leaves nothing to train";
        if (Quantizer == WeightQuantizerKind.Lsq && Qkr) yield return "--qkr needs --quantizer statsq (the LSQ baseline quantizes q and k separately; pass --qkr false)";
        if (Quantizer == WeightQuantizerKind.Lsq && Cga) yield return "--cga needs --quantizer statsq (its confidence is measured on the StatsQ grid; pass --cga false)";
    }
}
