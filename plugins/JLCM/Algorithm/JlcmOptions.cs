using Compressor.Layers.Codebook;
using Compressor.Sdk.Options;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>Options of the <c>jlcm</c> plugin. Defaults marked [RECON] are not from the paper (none is published);
/// see the README.</summary>
public sealed record JlcmOptions : PluginOptions
{
    /// <summary>Bits per index b (K = 2^b codewords); formerly <c>--bits</c>.</summary>
    [Option("Bits per weight index b: each codebook has K = 2^b fp16 codewords (indices are packed densely: exactly b bits each in the checkpoint and the ONNX file).", Min = 1, Max = 8, Aliases = ["Bits"])]
    public int WeightBits { get; init; } = 2;

    /// <summary>Row groups G per layer.</summary>
    [Option("Groups G of output neurons (rows) per layer; capped at the layer's rows.", Min = 1, Max = 4096)]
    public int Groups { get; init; } = 4;

    /// <summary>Variant A (scales) or B (codebooks).</summary>
    [Option("scales: one codebook per layer with an fp16 scale per group; codebooks: one codebook per group.")]
    public CodebookVariant Variant { get; init; } = CodebookVariant.Scales;

    /// <summary>Row grouping.</summary>
    [Option("Row grouping: sort (by --row-statistic, cut into equal groups) or kmeans (k-means on 16 per-row quantiles, balanced to equal groups).")]
    public GroupingMethod Grouping { get; init; } = GroupingMethod.Sort;

    /// <summary>Statistic of the sort grouping.</summary>
    [Option("Row statistic the sort grouping orders by: std or max-abs.")]
    public RowStatistic RowStatistic { get; init; } = RowStatistic.Std;

    /// <summary>What to do with the row permutation.</summary>
    [Option("fold: fold the row permutation into the layer and its consumer when the outputs provably stay equal, else store it; explicit: always store it; none: keep the original row order.")]
    public PermutationMode Permutation { get; init; } = PermutationMode.Fold;

    /// <summary>The method (or baseline).</summary>
    [Option("jlcm (joint learning), kmeans (k-means init only, baseline) or rtn (round-to-nearest at the same bits, baseline).")]
    public JlcmMethod Method { get; init; } = JlcmMethod.Jlcm;

    /// <summary>Mapping gradient weighting.</summary>
    [Option("Mapping gradient through the index: proximal (g/Δ, the paper's proposal) or default (g·Δ).")]
    public MappingGradientKind Gradient { get; init; } = MappingGradientKind.Proximal;

    /// <summary>Codebook and index initialisation.</summary>
    [Option("Initialisation before joint learning: plus-plus (1-D k-means seeded by k-means++) or quantile (k-means seeded at quantiles), every index the nearest codeword; or gptq (GPTVQ: k-means weighted by GPTQ's column importance, then indices assigned with GPTQ's error feedback over the codebook values, from each layer's input statistics).")]
    public CodebookInit Init { get; init; } = CodebookInit.PlusPlus;

    /// <summary>Lloyd iterations of the 1-D k-means.</summary>
    [Option("Lloyd iterations of the 1-D k-means.", Min = 1, Max = 1000)]
    public int KmeansIterations { get; init; } = 30;

    /// <summary>Joint-learning iterations per layer.</summary>
    [Option("Adam iterations of joint learning per layer (layer objective) or per block (block objective; each runs the block on every calibration batch) ([RECON] default).", Min = 0, Max = 100000)]
    public int Iterations { get; init; } = 100;

    /// <summary>Calibration samples.</summary>
    [Option("Calibration samples (unlabelled) drawn from the calibration data.", Min = 1, Max = 100000)]
    public int CalibrationSamples { get; init; } = 128;

    /// <summary>Learning rate of the latent indices (index units per step); formerly <c>--lr</c>.</summary>
    [Option("Learning rate of the latent indices, in index units per step (RMS over the layer) ([RECON] default).", Min = 0, Max = 10, Aliases = ["Lr"])]
    public double LearningRate { get; init; } = 0.02;

    /// <summary>Learning rate of codebooks and scales, relative to their mean magnitude; formerly <c>--codebook-lr</c>.</summary>
    [Option("Adam learning rate of codebook values and group scales, relative to their mean magnitude ([RECON] default).", Min = 0, Max = 1, Aliases = ["CodebookLr"])]
    public double CodebookLearningRate { get; init; } = 1e-3;

    /// <summary>Reconstruction objective.</summary>
    [Option("What joint learning reconstructs: block (each block's output, cut from an imported ONNX graph at its residual/normalisation boundaries; errors through activations, normalisations and residuals count), layer (each layer's output alone, from its input statistics) or auto (block where the model is an imported graph, else layer) ([RECON] default).")]
    public ReconstructionObjective Objective { get; init; } = ReconstructionObjective.Auto;

    /// <summary>Bias correction after learning (block objective).</summary>
    [Option("Block objective: after learning, add to each compressed layer's bias (creating one where the layer has none) the mean difference between its FP and compressed outputs on the calibration inputs, which removes the constant error a quantized filter makes on inputs with a large mean ([RECON], not in the paper: the bias correction of data-free quantization, Nagel et al. 2019). Off by default: it helps on inputs with a large offset but made all-MiniLM-L6-v2 worse in the benchmark (see the README). Not applied to --method rtn.")]
    public bool BiasCorrection { get; init; }

    /// <summary>Damping of the input statistics.</summary>
    [Option("Damping added to the diagonal of the input statistics H = XᵀX/N, relative to its mean diagonal: regularises the reconstruction loss toward plain weight MSE where the calibration inputs span few directions ([RECON], as GPTQ's 1%).", Min = 0, Max = 10)]
    public double Damping { get; init; } = 0.01;

    /// <summary>Batch size of calibration forwards.</summary>
    [Option("Samples per calibration forward pass.", Min = 1, Max = 4096)]
    public int BatchSize { get; init; } = 32;

    /// <inheritdoc/>
    public override IEnumerable<string> Validate()
    {
        if (Method == JlcmMethod.Rtn && WeightBits < 2)
            yield return "--method rtn needs --weight-bits 2 to 8 (integer codes)";
    }
}
