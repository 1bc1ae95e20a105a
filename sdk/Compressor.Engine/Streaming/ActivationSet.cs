using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>The calibration activations at one block's input in a streamed run: <see cref="Count"/> samples of one
/// shape (token positions × hidden width), float32, sample j computed from calibration sample j — held in memory, or
/// in a raw file on disk when they exceed the run's budget (read back a batch at a time). As a data set it yields
/// batches in the order, and with the shuffle, of the token data set it was computed from, so that a plugin drawing
/// its first N shuffled samples draws the same samples as it would from the tokens.</summary>
public sealed class ActivationSet : IDataSet, IDisposable
{
    private readonly long[] _sampleShape;
    private readonly long _sampleBytes;
    private readonly Tensor? _memory;
    private readonly FileStream? _file;
    private readonly string? _path;
    private long _written;

    private ActivationSet(string name, long count, long[] sampleShape, string? path)
    {
        Name = name;
        Count = count;
        _sampleShape = sampleShape;
        _sampleBytes = sampleShape.Aggregate(4L, (a, b) => a * b);
        if (path is null)
        {
            _memory = empty([count, .. sampleShape], ScalarType.Float32);
        }
        else
        {
            _path = path;
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            _file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20, FileOptions.DeleteOnClose);
        }
    }

    /// <summary>A set of <paramref name="count"/> samples of <paramref name="sampleShape"/>, in memory
    /// (<paramref name="path"/> null) or in the file <paramref name="path"/> (deleted when the set is disposed).</summary>
    public static ActivationSet Create(string name, long count, long[] sampleShape, string? path) => new(name, count, sampleShape, path);

    /// <summary>The bytes of <paramref name="count"/> samples of <paramref name="sampleShape"/> in float32.</summary>
    public static long BytesOf(long count, IEnumerable<long> sampleShape) => sampleShape.Aggregate(4L * count, (a, b) => a * b);

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public long Count { get; }

    /// <summary>Whether the samples live on disk.</summary>
    public bool OnDisk => _file is not null;

    /// <summary>Appends the next samples [b, …] (in sample order).</summary>
    public void Append(Tensor batch)
    {
        long b = batch.shape[0];
        if (!batch.shape.Skip(1).SequenceEqual(_sampleShape) || _written + b > Count)
            throw new InvalidOperationException($"activation batch [{string.Join(", ", batch.shape)}] does not fit the set [{Count}, {string.Join(", ", _sampleShape)}] at {_written}");
        using var f = batch.detach().to_type(ScalarType.Float32).cpu().contiguous();
        if (_memory is not null)
        {
            using var slot = _memory.narrow(0, _written, b);
            slot.copy_(f);
        }
        else
        {
            _file!.Seek(_written * _sampleBytes, SeekOrigin.Begin);
            _file.Write(f.bytes);
        }
        _written += b;
    }

    /// <inheritdoc/>
    public IEnumerable<DataBatch> Batches(int batchSize, bool shuffle = false, int seed = 0)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (_written != Count) throw new InvalidOperationException($"activation set {Name} holds {_written} of {Count} samples");
        long[] order = Enumerable.Range(0, checked((int)Count)).Select(i => (long)i).ToArray();
        if (shuffle) new Random(seed).Shuffle(order);
        for (long start = 0; start < Count; start += batchSize)
        {
            long len = Math.Min(batchSize, Count - start);
            var picked = order.AsSpan((int)start, (int)len).ToArray();
            yield return new DataBatch(Read(picked), null);
        }
    }

    private Tensor Read(long[] samples)
    {
        if (_memory is not null)
        {
            using var idx = tensor(samples);
            return _memory.index_select(0, idx);
        }
        var result = empty([samples.Length, .. _sampleShape], ScalarType.Float32);
        var bytes = new byte[_sampleBytes];
        var all = result.bytes;
        for (int i = 0; i < samples.Length; i++)
        {
            _file!.Seek(samples[i] * _sampleBytes, SeekOrigin.Begin);
            _file.ReadExactly(bytes);
            bytes.CopyTo(all.Slice((int)(i * _sampleBytes), (int)_sampleBytes));
        }
        result.bytes = all;
        return result;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _memory?.Dispose();
        _file?.Dispose();
    }
}
