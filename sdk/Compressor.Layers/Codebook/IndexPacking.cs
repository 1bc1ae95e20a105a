namespace Compressor.Layers.Codebook;

/// <summary>How a <see cref="CodebookLayer"/> stores its b-bit indices.</summary>
public enum IndexPacking
{
    /// <summary>In the byte-aligned container of <see cref="Packing.CodebookBits.ContainerBits"/>: 1- and 2-bit indices in
    /// 2 bits, 3- and 4-bit in 4, 5- to 8-bit in 8 (config version 1, the only form before dense packing).</summary>
    Containers,
    /// <summary>Densely, exactly b bits per index (one bit stream; the same bytes as the containers at 2, 4 and 8 bits),
    /// unpacked in the graph when exported. What new layers use.</summary>
    Dense,
}
