namespace Compressor.Layers.Packing;

/// <summary>The memory accounting of grouped codebook quantization (the JLCM paper; plugins/JLCM/README.md,
/// "Memory accounting"): a weight [O, I] with b-bit indices (K = 2^b codewords, fp16), G contiguous row groups, either
/// one codebook with one fp16 scale per group or one codebook per group; group boundaries cost nothing for the fixed
/// contiguous split used here (row r belongs to group ⌊r·G/O⌋), and a row permutation that could not be folded into the
/// neighbouring layers costs O·⌈log2 O⌉ bits.</summary>
public static class CodebookBits
{
    /// <summary>Bits of a fp16 codeword or scale.</summary>
    public const int Fp16Bits = 16;

    /// <summary>⌈log2 n⌉ (0 for n ≤ 1).</summary>
    public static int CeilLog2(long n)
    {
        int b = 0;
        while ((1L << b) < n) b++;
        return b;
    }

    /// <summary>The accounted bits (plugins/JLCM/README.md, "Memory accounting") of one layer with
    /// <paramref name="indexBits"/>-bit indices.</summary>
    /// <param name="rows">O, output neurons.</param>
    /// <param name="cols">I, weights per neuron.</param>
    /// <param name="indexBits">b (the codebook has 2^b entries).</param>
    /// <param name="groups">G.</param>
    /// <param name="codebookPerGroup">Variant B (one codebook per group) or variant A (one codebook, a scale per group).</param>
    /// <param name="explicitPermutation">Whether an index map of the rows is stored.</param>
    public static long LayerBits(long rows, long cols, int indexBits, long groups, bool codebookPerGroup, bool explicitPermutation)
    {
        if (rows <= 0 || cols <= 0 || indexBits is < 1 or > 8 || groups < 1 || groups > rows)
            throw new ArgumentException($"invalid codebook layer: [{rows}, {cols}], {indexBits} bits, {groups} groups");
        long k = 1L << indexBits;
        long overhead = codebookPerGroup ? Fp16Bits * k * groups : Fp16Bits * k + Fp16Bits * groups;
        return indexBits * rows * cols + overhead + (explicitPermutation ? rows * CeilLog2(rows) : 0);
    }

    /// <summary>The byte-aligned container indices of config version 1 are stored in: 2, 4 or 8 bits (3-bit indices take
    /// 4). New layers pack indices densely instead (b bits each).</summary>
    public static int ContainerBits(int indexBits) => indexBits switch
    {
        1 or 2 => 2,
        3 or 4 => 4,
        >= 5 and <= 8 => 8,
        _ => throw new ArgumentException($"{indexBits}-bit codebook indices are not supported (1..8)"),
    };

    /// <summary>The group of stored row <paramref name="row"/>: ⌊row·G/O⌋ (contiguous, sizes differing by at most one).</summary>
    public static long GroupOf(long row, long rows, long groups) => row * groups / rows;
}
