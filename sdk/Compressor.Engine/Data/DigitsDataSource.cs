using Compressor.Sdk.Data;
using System.IO.Compression;
using System.Security.Cryptography;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>The scikit-learn digits set (1,797 8×8 images, 10 classes), embedded in the engine as the default data set
/// (see Data/Resources/DIGITS-LICENSE.md). Pixels 0..16 are scaled to [0, 1]; inputs are [N, 1, 8, 8].</summary>
public static class DigitsDataSource
{
    /// <summary>sha256 of the embedded <c>digits.csv.gz</c>.</summary>
    public const string Sha256 = "46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a";

    /// <summary>Fraction held out for evaluation.</summary>
    public const double TestFraction = 0.2;

    /// <summary>All samples: inputs [1797, 1, 8, 8] float32 in [0, 1], labels [1797] int64.</summary>
    public static (Tensor Inputs, Tensor Labels) LoadAll()
    {
        using var stream = typeof(DigitsDataSource).Assembly.GetManifestResourceStream("Compressor.Engine.Data.Resources.digits.csv.gz")
                           ?? throw new InvalidOperationException("the digits resource is missing from Compressor.Engine");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        string hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (hash != Sha256) throw new InvalidOperationException($"embedded digits.csv.gz has sha256 {hash}, expected {Sha256}");
        using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
        using var reader = new StreamReader(gz);
        var pixels = new List<float>(1797 * 64);
        var labels = new List<long>(1797);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0) continue;
            var f = line.Split(',');
            if (f.Length != 65) throw new InvalidDataException($"digits row with {f.Length} fields");
            for (int i = 0; i < 64; i++) pixels.Add(float.Parse(f[i], System.Globalization.CultureInfo.InvariantCulture) / 16f);
            labels.Add(long.Parse(f[64], System.Globalization.CultureInfo.InvariantCulture));
        }
        return (tensor(pixels.ToArray()).reshape(labels.Count, 1, 8, 8), tensor(labels.ToArray()));
    }

    /// <summary>Train / calibration / test splits: a seeded permutation, the last 20% held out; calibration is the
    /// first <c>calibration</c> (a spec option, default 256) training samples.</summary>
    public static DataSplits Open(DataSpec spec, int seed)
    {
        var (x, y) = LoadAll();
        using var _x = x;
        using var _y = y;
        return ImageSplits.Split("digits", x, y, 10, TestFraction, seed, spec.Int("calibration", 256, 1, 100_000), spec.Int("limit", int.MaxValue, 1, int.MaxValue));
    }
}
