using Compressor.Layers.Codebook;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The learnable state of one layer's grouped codebook, in stored (grouped) row order: codebooks
/// [1 or G, K] (sorted ascending), group scales [G] (variant scales), indices k [O, I] and the latent continuous
/// indices u (k = clamp(round(u), 0, K−1)). <see cref="Weight"/> is differentiable in the codebooks and scales, so
/// autograd gives the exact codebook gradient dL/dC[k] = Σ_{j: k_j = k} g_j (× the group scale) and
/// dL/dα_g = Σ_j g_j·C[k_j].</summary>
public sealed class GroupedCodebook : IDisposable
{
    private GroupedCodebook(long rows, long cols, int bits, long groups, CodebookVariant variant, Device device)
    {
        Rows = rows; Cols = cols; Bits = bits; Groups = groups; Variant = variant;
        RowGroup = arange(rows, ScalarType.Int64, device: device).mul(groups).div(rows, RoundingMode.floor).DetachFromDisposeScope();
    }

    /// <summary>O.</summary>
    public long Rows { get; }

    /// <summary>I.</summary>
    public long Cols { get; }

    /// <summary>b.</summary>
    public int Bits { get; }

    /// <summary>K = 2^b.</summary>
    public long K => 1L << Bits;

    /// <summary>G.</summary>
    public long Groups { get; }

    /// <summary>Scales or codebooks.</summary>
    public CodebookVariant Variant { get; }

    /// <summary>The group of each stored row [O] (⌊r·G/O⌋).</summary>
    public Tensor RowGroup { get; }

    /// <summary>Codebooks [1 or G, K], float32, sorted ascending, requiring grad.</summary>
    public TorchSharp.Modules.Parameter Codebooks { get; private set; } = null!;

    /// <summary>Group scales [G], float32, requiring grad (variant scales), else null.</summary>
    public TorchSharp.Modules.Parameter? Scales { get; private set; }

    /// <summary>Indices k [O, I] (int64).</summary>
    public Tensor Indices { get; private set; } = null!;

    /// <summary>Latent indices u [O, I] (float32).</summary>
    public Tensor Latent { get; private set; } = null!;

    /// <summary>K-means initialisation on the stored-order weight [O, I]: variant scales clusters the group-normalised
    /// weights w/α_g (α_g = the group's standard deviation) into one codebook; variant codebooks clusters each group's
    /// weights into its own. Every index is the nearest codeword; u = k. With <see cref="CodebookInit.Gptq"/> (GPTVQ,
    /// README "Initialisation") the k-means weighs every weight by its column's GPTQ importance 1/Uᵢᵢ² (U the upper
    /// Cholesky factor of <paramref name="hessian"/>⁻¹), seeded by k-means++, and the indices are assigned with GPTQ's
    /// error feedback over the codewords (<see cref="GptvqAssignment"/>).</summary>
    /// <exception cref="ArgumentException"><see cref="CodebookInit.Gptq"/> without input statistics.</exception>
    public static GroupedCodebook Initialise(Tensor weight, int bits, long groups, CodebookVariant variant, CodebookInit init, int iterations, long seed,
        Tensor? hessian = null)
    {
        if (init == CodebookInit.Gptq && hessian is null) throw new ArgumentException("the gptq initialisation needs the layer's input statistics");
        var cb = new GroupedCodebook(weight.shape[0], weight.shape[1], bits, groups, variant, weight.device);
        using var scope = NewDisposeScope();
        var w = weight.detach().to_type(ScalarType.Float32);
        int k = 1 << bits;
        Tensor? u = init == CodebookInit.Gptq ? GptvqAssignment.InverseCholesky(hessian!) : null;
        var importance = u is null ? null : GptvqAssignment.Importance(u).unsqueeze(0).expand(cb.Rows, cb.Cols);
        var seeding = init == CodebookInit.Gptq ? CodebookInit.PlusPlus : init;
        Tensor codebooks, indices;
        Tensor? scales = null;
        if (variant == CodebookVariant.Scales)
        {
            var alpha = stack(Enumerable.Range(0, (int)groups).Select(g => w.index_select(0, cb.RowsOf(g)).std()).ToList());
            alpha = where(alpha.gt(0), alpha, ones_like(alpha));
            var normalised = w.div(alpha.index_select(0, cb.RowGroup).unsqueeze(1));
            codebooks = KMeans1D.Fit(normalised, k, seeding, iterations, seed, importance).unsqueeze(0);
            indices = KMeans1D.Assign(normalised, codebooks[0]);
            scales = alpha;
        }
        else
        {
            var books = new List<Tensor>();
            indices = zeros([cb.Rows, cb.Cols], ScalarType.Int64, device: w.device);
            for (int g = 0; g < groups; g++)
            {
                var rows = cb.RowsOf(g);
                var wg = w.index_select(0, rows);
                var c = KMeans1D.Fit(wg, k, seeding, iterations, seed + 7919 * g, importance?.index_select(0, rows));
                books.Add(c);
                indices.index_copy_(0, rows, KMeans1D.Assign(wg, c));
            }
            codebooks = stack(books);
        }
        cb.Codebooks = Leaf(codebooks);
        cb.Scales = scales is null ? null : Leaf(scales);
        if (u is not null)
            using (no_grad())
            using (var rowCodewords = cb.RowCodewords())
                indices = GptvqAssignment.Assign(w, rowCodewords, u);
        cb.Indices = indices.DetachFromDisposeScope();
        cb.Latent = indices.to_type(ScalarType.Float32).DetachFromDisposeScope();
        return cb;
    }

    private static TorchSharp.Modules.Parameter Leaf(Tensor t)
    {
        var p = new TorchSharp.Modules.Parameter(t.detach().clone(), requires_grad: true);
        p.DetachFromDisposeScope();
        return p;
    }

    /// <summary>The stored rows of group <paramref name="g"/> (int64).</summary>
    public Tensor RowsOf(long g) => RowGroup.eq(g).nonzero().flatten();

    /// <summary>Each row's codewords in weight space [O, K]: C[0]·α_g (variant scales) or C_g. Differentiable.</summary>
    public Tensor RowCodewords() => Variant == CodebookVariant.Scales
        ? Codebooks.expand(Rows, K).mul(Scales!.index_select(0, RowGroup).unsqueeze(1))
        : Codebooks.index_select(0, RowGroup);

    /// <summary>Ŵ [O, I] = the codeword of each index in weight space. Differentiable in codebooks and scales.</summary>
    public Tensor Weight()
    {
        using var scope = NewDisposeScope();
        return RowCodewords().gather(1, Indices).MoveToOuterDisposeScope();
    }

    /// <summary>Sets new indices (values clamped into [0, K−1]) and latent indices.</summary>
    public void SetIndices(Tensor indices, Tensor latent)
    {
        Indices.Dispose(); Latent.Dispose();
        Indices = indices.clamp(0, K - 1).DetachFromDisposeScope();
        Latent = latent.DetachFromDisposeScope();
    }

    /// <summary>Re-sorts every codebook ascending after an update and remaps indices and latent indices so that every
    /// weight keeps its codeword (u moves by the same integer as its index).</summary>
    public void SortCodebooks()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (sorted, order) = Codebooks.sort(-1);
        if (order.eq(arange(K, ScalarType.Int64, device: order.device).expand_as(order)).all().item<bool>()) return;
        var inverse = order.argsort(-1);                      // old position → new position, per codebook
        var rowInverse = Variant == CodebookVariant.Scales ? inverse.expand(Rows, K) : inverse.index_select(0, RowGroup);
        var newIndices = rowInverse.gather(1, Indices);
        var newLatent = Latent.add(newIndices.sub(Indices).to_type(ScalarType.Float32));
        Codebooks.copy_(sorted);
        SetIndices(newIndices.MoveToOuterDisposeScope(), newLatent.MoveToOuterDisposeScope());
    }

    /// <summary>A copy of (codebooks, scales, indices) for keeping the best iterate.</summary>
    public (Tensor Codebooks, Tensor? Scales, Tensor Indices) Snapshot() =>
        (Codebooks.detach().clone().DetachFromDisposeScope(), Scales?.detach().clone().DetachFromDisposeScope(), Indices.clone().DetachFromDisposeScope());

    /// <summary>Restores a <see cref="Snapshot"/>.</summary>
    public void Restore((Tensor Codebooks, Tensor? Scales, Tensor Indices) s)
    {
        using var noGrad = no_grad();
        Codebooks.copy_(s.Codebooks);
        Scales?.copy_(s.Scales!);
        SetIndices(s.Indices.clone(), s.Indices.to_type(ScalarType.Float32));
    }

    /// <summary>Builds the compressed layer replacing <paramref name="original"/> (a Linear or Conv2d), with the optional
    /// row order (original row j = stored row rowOrder[j]) and bias (original order).</summary>
    public nn.Module ToLayer(nn.Module original, Tensor? rowOrder, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var c = Codebooks.detach();
        var s = Scales?.detach();
        return CodebookLayer.FromIndices(WeightGeometry.Of(original), Bits, Groups, Variant, Indices, c, s, rowOrder, bias);
    }

    /// <summary>Bits of this layer by README "Memory accounting".</summary>
    public long AccountedBits(bool explicitPermutation) =>
        CodebookBits.LayerBits(Rows, Cols, Bits, Groups, Variant == CodebookVariant.Codebooks, explicitPermutation);

    /// <inheritdoc/>
    public void Dispose()
    {
        RowGroup.Dispose(); Codebooks?.Dispose(); Scales?.Dispose(); Indices?.Dispose(); Latent?.Dispose();
    }
}
