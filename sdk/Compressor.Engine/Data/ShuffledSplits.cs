using Compressor.Sdk.Data;

namespace Compressor.Engine.Data;

/// <summary>Train / calibration / evaluation sets cut from one set of samples by a seeded shuffle: the
/// <c>validation</c> fraction is held out for evaluation, <c>limit</c> caps the training samples and the calibration
/// set is the first <c>calibration</c> training samples of the shuffle.</summary>
internal static class ShuffledSplits
{
    public static DataSplits Of(TensorDataSet all, DataSpec spec, int seed, DataInfo info, int defaultCalibration)
    {
        double validation = spec.Fraction("validation", 0.1);
        long n = all.Count;
        if (n < 2) throw new CompressException(ErrorKind.InvalidInput, $"{info.Name}: {n} sample(s) cannot be split into training and validation");
        long[] order = Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        int held = (int)Math.Clamp(Math.Round(n * validation), 1, n - 1);
        var rest = order[held..];
        var train = all.Subset(all.Name + "/train", rest.Take(spec.Int("limit", int.MaxValue, 1, int.MaxValue)).ToArray());
        var eval = all.Subset(all.Name + "/validation", order[..held]);
        var calib = all.Subset(all.Name + "/calibration", rest.Take(spec.Int("calibration", defaultCalibration, 1, 1_000_000)).ToArray());
        all.Dispose();
        return new DataSplits(info, train, calib, eval);
    }
}
