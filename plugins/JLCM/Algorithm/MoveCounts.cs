namespace Compressor.Plugins.Jlcm.Algorithm;

/// <summary>The saved form of an <see cref="IndexMoveStats"/>.</summary>
/// <param name="One">Indices moved by one codeword, per update.</param>
/// <param name="Two">Indices moved by two, per update.</param>
/// <param name="More">Indices moved by three or more, per update.</param>
/// <param name="Extreme">Share of weights on the first or last codeword, per update.</param>
public sealed record MoveCounts(List<long> One, List<long> Two, List<long> More, List<double> Extreme)
{
    /// <summary>The counts of <paramref name="s"/>.</summary>
    public static MoveCounts Of(IndexMoveStats s) => new([.. s.MovesOne], [.. s.MovesTwo], [.. s.MovesThreeOrMore], [.. s.ExtremeShare]);

    /// <summary>The counts as statistics again.</summary>
    public IndexMoveStats ToStats()
    {
        var s = new IndexMoveStats();
        s.MovesOne.AddRange(One);
        s.MovesTwo.AddRange(Two);
        s.MovesThreeOrMore.AddRange(More);
        s.ExtremeShare.AddRange(Extreme);
        return s;
    }
}
