using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Splits labelled images into train / calibration / evaluation sets.</summary>
internal static class ImageSplits
{
    /// <summary>A seeded permutation of all samples; the last <paramref name="testFraction"/> is the evaluation set.</summary>
    public static DataSplits Split(string name, Tensor x, Tensor y, int classes, double testFraction, int seed, int calibration, int limit)
    {
        long n = x.shape[0];
        long[] order = Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        long test = (long)Math.Round(n * testFraction);
        var all = new TensorDataSet(name, x.alias(), y.alias());
        var trainIdx = order[..(int)(n - test)].Take(limit).ToArray();
        var train = all.Subset(name + "/train", trainIdx);
        var eval = all.Subset(name + "/test", order[(int)(n - test)..]);
        var calib = all.Subset(name + "/calibration", trainIdx.Take(calibration).ToArray());
        all.Dispose();
        return new DataSplits(new DataInfo(name, DataKind.Images, x.shape[1..], classes, 0, null), train, calib, eval);
    }

    /// <summary>Fixed train and test sets (e.g. MNIST's): the training set is shuffled by seed only for the limit and calibration choice.</summary>
    public static DataSplits Fixed(string name, Tensor trainX, Tensor trainY, Tensor testX, Tensor testY, int classes, int seed, int calibration, int limit)
    {
        long n = trainX.shape[0];
        long[] sampleShape = trainX.shape[1..];
        long[] order = Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
        new Random(seed).Shuffle(order);
        var all = new TensorDataSet(name, trainX, trainY);
        var chosen = order.Take(limit).Order().ToArray();
        var train = limit >= n ? all : all.Subset(name + "/train", chosen);
        var calib = all.Subset(name + "/calibration", order.Take(calibration).ToArray());
        if (!ReferenceEquals(train, all)) all.Dispose();
        var eval = new TensorDataSet(name + "/test", testX, testY);
        return new DataSplits(new DataInfo(name, DataKind.Images, sampleShape, classes, 0, null), train, calib, eval);
    }
}
