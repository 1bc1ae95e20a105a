namespace Compressor.Fuzz;

/// <summary>Blind (not coverage-guided) byte mutations, seeded: the fallback loop that CI runs for a few seconds per
/// target when no fuzzer is installed. Edits: random byte, bit flip, an interesting value (0, 0xff, 0x7f, 0x80)
/// written as 1, 4 or 8 bytes, truncation, deletion, duplication of a chunk.</summary>
public static class FuzzMutator
{
    private static readonly byte[] Interesting = [0x00, 0xff, 0x7f, 0x80];

    /// <summary>A mutation of <paramref name="original"/>.</summary>
    public static byte[] Mutate(byte[] original, Random rng)
    {
        var b = new List<byte>(original);
        int edits = rng.Next(1, 5);
        for (int e = 0; e < edits && b.Count > 0; e++)
        {
            int at = rng.Next(b.Count);
            switch (rng.Next(6))
            {
                case 0: b[at] = (byte)rng.Next(256); break;
                case 1: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 2:
                    int width = new[] { 1, 4, 8 }[rng.Next(3)];
                    byte v = Interesting[rng.Next(Interesting.Length)];
                    for (int k = 0; k < width && at + k < b.Count; k++) b[at + k] = v;
                    break;
                case 3: b.RemoveRange(at, b.Count - at); break;
                case 4: b.RemoveRange(at, Math.Min(rng.Next(1, 16), b.Count - at)); break;
                default:
                    int length = Math.Min(rng.Next(1, 32), b.Count - at);
                    b.InsertRange(rng.Next(b.Count), b.GetRange(at, length));
                    break;
            }
        }
        return [.. b];
    }
}
