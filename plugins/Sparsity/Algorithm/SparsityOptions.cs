using Compressor.Sdk.Options;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Options of the <c>sparsity</c> plugin.</summary>
public sealed record SparsityOptions : PluginOptions
{
    /// <summary>The structured form of the selected linears.</summary>
    [Option("Structured form of the selected linears: none, lowrank, blockshuffle or blockdense (none: keep them dense, for --activation-sparsity or, with --from-scratch, the dense baseline trained by the same step trainer).")]
    public Structure Structure { get; init; } = Structure.LowRank;

    /// <summary>The share of each selected FFN linear's weights the structured form keeps; chooses r / B unless set directly.</summary>
    [Option("Share of the weight parameters of each selected FFN linear that the structured form keeps (0.5 keeps half; biases are unchanged): chooses the rank r (lowrank, blockdense) or the block count B (blockshuffle) unless --rank/--blocks set them. Kept within 1 point; where the structure cannot, the nearest achievable share is used and named in a warning. The achieved share is logged and reported (metric structuredWeightFraction).", Min = 0.01, Max = 1.0)]
    public double Fraction { get; init; } = 0.32;

    /// <summary>Rank r for lowrank/blockdense (0: from the fraction).</summary>
    [Option("Rank r of lowrank, inner width r of blockdense (0: from --fraction).", Min = 0, Max = 1 << 20)]
    public int Rank { get; init; }

    /// <summary>Blocks B for blockshuffle/blockdense (0: from the fraction for blockshuffle, 4 for blockdense).</summary>
    [Option("Block count B of blockshuffle and blockdense (0: from --fraction for blockshuffle, 4 for blockdense).", Min = 0, Max = 4096)]
    public int Blocks { get; init; }

    /// <summary>Keep the FFN of the first transformer layer dense (as the paper does).</summary>
    [Option("Keep the selected linears of the first (lowest-numbered) transformer layer dense, as StructuredFFN does.")]
    public bool FirstLayerDense { get; init; } = true;

    /// <summary>Re-initialise the structure (reference inits) and train the whole model on the task instead of fitting the dense weights.</summary>
    [Option("Start from scratch: reference inits (SVD of a random matrix for lowrank, orthogonal blocks) and train the whole model on the task data (next tokens / labels) for --train-steps; the guide of --sgt starts as the product of the factors.")]
    public bool FromScratch { get; init; }

    /// <summary>Task training steps with --from-scratch.</summary>
    [Option("Optimizer steps of task training with --from-scratch.", Min = 1, Max = 10_000_000)]
    public int TrainSteps { get; init; } = 1000;

    /// <summary>Self-guided training during training/recovery.</summary>
    [Option("Self-guided training: a dense guide W_g mixed in as α·W_g x + (1−α)·structured(x), α cosine from 1 to 0 over --sgt-share of the steps, then removed.")]
    public bool Sgt { get; init; }

    /// <summary>Share of the steps over which α decays.</summary>
    [Option("Share of the training (or recovery) steps over which the SGT weight α goes from 1 to 0.", Min = 0.0, Max = 1.0)]
    public double SgtShare { get; init; } = 0.5;

    /// <summary>Bernoulli reduce-flop mode of SGT.</summary>
    [Option("SGT reduce-flop mode: per forward and layer, use the guide path with probability α, else the pure structured output.")]
    public bool SgtReduceFlop { get; init; } = true;

    /// <summary>Reference quirk: BlockShuffle guide from BD(W2)·BD(W1) without the permutations.</summary>
    [Option("From scratch, initialise the BlockShuffle guide as BD(W2)·BD(W1) without the shuffles, as the reference code does (default: the exact structured matrix).")]
    public bool SgtBlockShuffleQuirk { get; init; }

    /// <summary>Distillation steps from the FP model on unlabeled data after fitting from dense.</summary>
    [Option("Recovery training after fitting from dense: optimizer steps of distillation from the original model (MSE on its first output: logits or hidden states) on the training data, no labels; 0 = none. Resumable from the work folder.", Min = 0, Max = 10_000_000)]
    public int RecoverySteps { get; init; }

    /// <summary>Learning rate of training/recovery.</summary>
    [Option("Peak AdamW learning rate of training and recovery (10% warm-up, cosine to 1%).", Min = 1e-7, Max = 1.0)]
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Batch size of training/recovery.</summary>
    [Option("Samples per training/recovery step.", Min = 1, Max = 4096)]
    public int BatchSize { get; init; } = 16;

    /// <summary>Steps between resumable checkpoints.</summary>
    [Option("Steps between checkpoints of training/recovery in the work folder.", Min = 1, Max = 1_000_000)]
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Tokens per call at deployment; pre-merge layers where dense is faster at that count.</summary>
    [Option("Tokens per inference call at deployment (0: never pre-merge). Layers whose measured break-even token count (structured faster than dense) is above it are exported as the materialised dense product.", Min = 0, Max = 1 << 24)]
    public int DeployTokens { get; init; }

    /// <summary>Training-free activation sparsity score.</summary>
    [Option("Training-free activation sparsity of the selected linears: none, wina (|x|·column norm) or teal (|x|); exported as a TopK mask before the MatMul.")]
    public ActivationScore ActivationSparsity { get; init; } = ActivationScore.None;

    /// <summary>Target input sparsity (size-weighted average).</summary>
    [Option("Target input sparsity of --activation-sparsity (size-weighted average over the selected linears).", Min = 0.0, Max = 0.99)]
    public double Sparsity { get; init; } = 0.5;

    /// <summary>Per-layer allocation of the sparsity.</summary>
    [Option("How the activation sparsity is spread: greedy (TEAL's search on calibration output error) or uniform.")]
    public SparsityAllocation Allocation { get; init; } = SparsityAllocation.Greedy;

    /// <summary>Calibration tokens per layer for the activation-sparsity allocation.</summary>
    [Option("Calibration tokens kept per layer for the greedy sparsity allocation.", Min = 16, Max = 1 << 20)]
    public int CalibrationTokens { get; init; } = 2048;

    /// <inheritdoc/>
    /// <remarks>The from-dense fit works on each linear's own weight, and the uniform activation-sparsity allocation on
    /// each linear's own size, so both give the same layers block by block (README "Streaming"). Training (from scratch,
    /// recovery) trains the whole model, and the greedy allocation spreads the target over every selected linear of
    /// the model at once.</remarks>
    public override string? NotStreamableReason() =>
        FromScratch ? "--from-scratch trains the whole model on the task, which cannot run one block at a time"
        : RecoverySteps > 0 ? "--recovery-steps distils the whole model from the original, which cannot run one block at a time"
        : ActivationSparsity != ActivationScore.None && Allocation == SparsityAllocation.Greedy
            ? "--allocation greedy spreads --sparsity over every selected linear of the model at once; streamed, use --allocation uniform"
            : null;

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        if (Structure == Structure.None && ActivationSparsity == ActivationScore.None && !FromScratch)
            yield return "--structure none needs --activation-sparsity wina|teal, or --from-scratch for the dense baseline (otherwise nothing changes)";
        if (Structure == Structure.None && Sgt)
            yield return "--sgt guides a structured layer: it needs --structure lowrank|blockshuffle|blockdense";
        if (FromScratch && ActivationSparsity != ActivationScore.None)
            yield return "--activation-sparsity is training-free: it does not combine with --from-scratch";
        if (Structure != Structure.None && ActivationSparsity != ActivationScore.None)
            yield return "--activation-sparsity applies to dense linears: use it with --structure none";
        if (FromScratch && RecoverySteps > 0)
            yield return "--from-scratch trains on the task; --recovery-steps is for fitting from dense (use one of them)";
        if (Structure == Structure.LowRank && Blocks > 0)
            yield return "--blocks does not apply to --structure lowrank";
        if (Structure == Structure.BlockShuffle && Rank > 0)
            yield return "--rank does not apply to --structure blockshuffle";
    }
}
