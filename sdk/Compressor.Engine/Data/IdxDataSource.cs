using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>An MNIST-layout folder: <c>train-images-idx3-ubyte</c>, <c>train-labels-idx1-ubyte</c>,
/// <c>t10k-images-idx3-ubyte</c>, <c>t10k-labels-idx1-ubyte</c> (each optionally <c>.gz</c>). Pixels are scaled
/// to [0, 1]; inputs are [N, 1, H, W]; the t10k files are the evaluation set.</summary>
public static class IdxDataSource
{
    /// <summary>Opens the folder.</summary>
    public static DataSplits Open(DataSpec spec, int seed)
    {
        string dir = spec.Path!;
        if (!Directory.Exists(dir)) throw new CompressException(ErrorKind.InvalidInput, $"--data idx:{dir}: no such folder");
        var (trX, trY) = Load(dir, "train");
        var (teX, teY) = Load(dir, "t10k");
        int classes = (int)Math.Max(trY.max().item<long>(), teY.max().item<long>()) + 1;
        return ImageSplits.Fixed("idx:" + Path.GetFileName(Path.GetFullPath(dir).TrimEnd('/')), trX, trY, teX, teY, classes, seed,
            spec.Int("calibration", 256, 1, 100_000), spec.Int("limit", int.MaxValue, 1, int.MaxValue));
    }

    private static (Tensor X, Tensor Y) Load(string dir, string prefix)
    {
        string images = Find(dir, $"{prefix}-images-idx3-ubyte"), labels = Find(dir, $"{prefix}-labels-idx1-ubyte");
        using var img = IdxReader.ReadBytes(images);
        using var lab = IdxReader.ReadBytes(labels);
        if (img.dim() != 3 || lab.dim() != 1 || img.shape[0] != lab.shape[0])
            throw new CompressException(ErrorKind.InvalidInput, $"{images}: {img.shape[0]} images of rank {img.dim()} do not match {lab.shape[0]} labels");
        var x = img.to_type(ScalarType.Float32).div_(255f).unsqueeze(1);
        var y = lab.to_type(ScalarType.Int64);
        return (x, y);
    }

    private static string Find(string dir, string name)
    {
        foreach (var candidate in new[] { name, name + ".gz", name.Replace("-idx", ".idx"), name.Replace("-idx", ".idx") + ".gz" })
        {
            string p = Path.Combine(dir, candidate);
            if (File.Exists(p)) return p;
        }
        throw new CompressException(ErrorKind.InvalidInput, $"--data idx:{dir}: no {name}[.gz] in the folder");
    }
}
