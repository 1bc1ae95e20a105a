namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>What the run keeps of a finished layer besides its tensors, in the resume store and for the report: where
/// its row permutation went, its reconstruction losses and how its indices moved.</summary>
public sealed class LayerOutcome
{
    /// <summary>The layer's name.</summary>
    public required string Name { get; init; }

    /// <summary>The layer the row permutation was folded into, or null.</summary>
    public string? Consumer { get; init; }

    /// <summary>The folded permutation (new row i = old row Order[i]), or null.</summary>
    public long[]? Order { get; init; }

    /// <summary>The reconstruction loss of the initialisation (a block's first layer carries the block's).</summary>
    public double InitialLoss { get; set; }

    /// <summary>The reconstruction loss of what is stored.</summary>
    public double FinalLoss { get; set; }

    /// <summary>The final loss relative to the mean square of the FP output, when measured.</summary>
    public double? RelativeLoss { get; set; }

    /// <summary>Index moves per update (<see cref="IndexMoveStats"/>), when learned.</summary>
    public MoveCounts? Moves { get; set; }
}
