using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>Seeded mutations of valid files: whatever the damage, reading fails only with a one-line
/// <see cref="CompressException"/> (never another exception, a crash or a hang).</summary>
public sealed class CheckpointFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Mutate(byte[] original, Random rng)
    {
        var b = (byte[])original.Clone();
        int edits = rng.Next(1, 6);
        for (int e = 0; e < edits; e++)
        {
            int at = rng.Next(b.Length);
            switch (rng.Next(4))
            {
                case 0: b[at] = (byte)rng.Next(256); break;
                case 1: b[at] ^= (byte)(1 << rng.Next(8)); break;
                case 2: b = b[..at]; break;
                default:
                    int length = Math.Min(rng.Next(1, 8), b.Length - at);
                    b = [.. b[..at], .. b[(at + length)..]];
                    break;
            }
            if (b.Length == 0) break;
        }
        return b;
    }

    [Fact]
    public void MutatedPicklesFailOnlyWithCompressExceptions()
    {
        var pickle = PyTorchZipWriter.StateDictPickle([
            ("a.weight", "FloatStorage", "0", 12, 0, [3, 4], [4, 1]),
            ("a.bias", "HalfStorage", "1", 3, 0, [3], [1]),
            ("t", "FloatStorage", "0", 12, 1, [2, 2], [1, 3]),
        ]);
        StorageRef Resolve(string type, string key, string location, long n)
        {
            if (key is not ("0" or "1") || n > 12) throw new CompressException(ErrorKind.InvalidInput, "no such storage");
            var (st, size) = RestrictedUnpickler.StorageTypes[type];
            return new StorageRef(type, st, size, key, location, n);
        }
        var rng = new Random(1234);
        int refused = 0;
        for (int i = 0; i < 5000; i++)
        {
            var bad = Mutate(pickle, rng);
            try
            {
                var root = new RestrictedUnpickler(bad, "fuzz", Resolve).Load();
                StateDictFlattener.Flatten(root, "fuzz");
            }
            catch (CompressException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                refused++;
            }
        }
        Assert.True(refused > 2500, $"only {refused} of 5000 mutations refused");
    }

    /// <summary>Opens <paramref name="iterations"/> mutations of <paramref name="original"/> as checkpoints and reads every
    /// tensor: each either loads or fails with a one-line <see cref="CompressException"/>.</summary>
    private void AssertMutationsFailCleanly(byte[] original, int seed, string extension, int iterations)
    {
        var rng = new Random(seed);
        string path = Path.Combine(_dir, "bad" + extension);
        for (int i = 0; i < iterations; i++)
        {
            File.WriteAllBytes(path, Mutate(original, rng));
            try
            {
                using var r = CheckpointFormats.Open(path);
                foreach (var t in r.Tensors) r.Read(t.Name).Dispose();
            }
            catch (CompressException e)
            {
                Assert.DoesNotContain('\n', e.Message);
            }
        }
    }

    [Fact]
    public void MutatedArchivesFailOnlyWithCompressExceptions()
    {
        string good = Path.Combine(_dir, "good.pt");
        PyTorchZipWriter.Write(good, [("w", randn(8, 8)), ("b", randn(8).to_type(ScalarType.Float16)), ("i", arange(5, dtype: ScalarType.Int64))]);
        AssertMutationsFailCleanly(File.ReadAllBytes(good), seed: 99, ".pt", iterations: 400);
    }

    [Fact]
    public void MutatedTorchSharpFilesFailOnlyWithCompressExceptions()
    {
        string good = Path.Combine(_dir, "good.dat");
        using (var m = TorchSharp.torch.nn.Sequential(("fc", TorchSharp.torch.nn.Linear(6, 4)), ("bn", TorchSharp.torch.nn.BatchNorm1d(4)))) m.save(good);
        AssertMutationsFailCleanly(File.ReadAllBytes(good), seed: 5, ".dat", iterations: 400);
    }
}
