namespace Compressor.Engine.Plugins;

/// <summary>What a plugin does to a model, for catalogues and recipes.</summary>
public enum PluginKind
{
    /// <summary>Maps weights to fewer bits (integer grids, codebooks).</summary>
    Quantization,
    /// <summary>Replaces layers by structured or sparse forms.</summary>
    Sparsity,
    /// <summary>Anything else that rewrites layers.</summary>
    Transform,
}
