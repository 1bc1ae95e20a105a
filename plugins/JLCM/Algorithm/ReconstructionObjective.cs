namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>What output the joint learning reconstructs ([RECON] README "Joint learning": per block or per
/// layer).</summary>
public enum ReconstructionObjective
{
    /// <summary>Block on an imported ONNX graph (where blocks can be cut from the graph), layer otherwise.</summary>
    Auto,
    /// <summary>Each block's output (a residual block, a transformer sub-block), all its layers learned together.</summary>
    Block,
    /// <summary>Each layer's output on its own, through its input statistics H = XᵀX/N.</summary>
    Layer,
}
