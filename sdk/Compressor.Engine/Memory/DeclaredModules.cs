using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Memory;

/// <summary>Modules whose TorchSharp constructor allocates its weight in native code on the CPU whatever the default
/// device (the embedding), built so that under <see cref="MetaDevice.Scope"/> they allocate nothing of their
/// declared size.</summary>
public static class DeclaredModules
{
    /// <summary>An embedding of <paramref name="rows"/> × <paramref name="dim"/>: TorchSharp's own (its usual
    /// initialisation) on a real device; on the meta device a one-row module given a meta weight of the full shape.</summary>
    public static Embedding Embedding(long rows, long dim)
    {
        if (!MetaDevice.IsActive) return nn.Embedding(rows, dim);
        var e = nn.Embedding(1, dim);
        e.weight = new Parameter(empty(rows, dim));
        return e;
    }

    /// <summary>An embedding whose table is a copy of <paramref name="weight"/> [rows, dim] (assigned, so the module's
    /// forward reads the registered parameter), allocating nothing beyond that copy.</summary>
    public static Embedding Embedding(Tensor weight)
    {
        var e = nn.Embedding(1, weight.shape[1]);
        e.weight = new Parameter(weight.clone());
        return e;
    }
}
