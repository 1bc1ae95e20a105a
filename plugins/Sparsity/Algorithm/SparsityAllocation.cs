namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>How the target activation sparsity is spread over layers.</summary>
public enum SparsityAllocation
{
    /// <summary>Greedy (TEAL): repeatedly raise the layer whose next increment adds the least relative output error.</summary>
    Greedy,
    /// <summary>Every layer at the target sparsity.</summary>
    Uniform,
}
