namespace Compressor.Host.Results;

/// <summary>The export-time pre-merge decision (<c>compress export --deploy-tokens N</c>, <c>preMerge</c> of
/// <c>compress export --format json</c>): which structured layers the ONNX model holds as their merged dense product
/// (one MatMul) and which as their factors, decided at N tokens per call against each layer shape's break-even token
/// count measured on this machine.</summary>
/// <param name="DeployTokens">The tokens per call the export was made for.</param>
/// <param name="Merged">Layers written as one dense MatMul.</param>
/// <param name="Layers">Every structured layer's decision.</param>
public sealed record PreMergeReport(int DeployTokens, int Merged, IReadOnlyList<PreMergeLayer> Layers);

/// <summary>One structured layer's pre-merge decision.</summary>
/// <param name="Name">The layer.</param>
/// <param name="Kind">Its structured kind (lowrank_linear, blockshuffle_linear, blockdense_linear).</param>
/// <param name="InFeatures">Inputs.</param>
/// <param name="OutFeatures">Outputs.</param>
/// <param name="BreakEvenTokens">The smallest token count (1, 2, 4 … 4096; 4097: never) from which the structured
/// forward beat the dense product here.</param>
/// <param name="Merged">Whether the ONNX model holds the merged dense product (deploy tokens below the break-even).</param>
public sealed record PreMergeLayer(string Name, string Kind, long InFeatures, long OutFeatures, int BreakEvenTokens, bool Merged);
