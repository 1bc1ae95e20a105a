using Compressor.Engine.Evaluation;

namespace Compressor.Host.Results;

/// <summary><c>evaluation.speedUp</c>: how much faster model.onnx ran than the input model on ONNX Runtime, measured
/// in the same run with the two timed interleaved on the same batch (one ratio per pair of runs; &gt; 1: faster).</summary>
/// <param name="Median">The median ratio reference/model.</param>
/// <param name="P10">Its 10th percentile (the spread's low end).</param>
/// <param name="P90">Its 90th percentile.</param>
/// <param name="Pairs">Pairs of timed runs.</param>
public sealed record SpeedUpResult(double? Median, double? P10, double? P90, int Pairs)
{
    /// <summary>The report form of <paramref name="s"/> (3 decimals).</summary>
    public static SpeedUpResult Of(SpeedUp s) => new(ReportNumber.Of(s.Median, 3), ReportNumber.Of(s.P10, 3), ReportNumber.Of(s.P90, 3), s.Pairs);
}
