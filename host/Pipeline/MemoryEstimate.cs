using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;

namespace Compressor.Host.Pipeline;

/// <summary>The host's side of <c>--max-memory</c>: estimates what a run keeps resident (the model's tensors and the
/// data sets held in memory) and refuses, before loading, a run whose checkpoint and data alone exceed the limit;
/// after loading it hands plugins a <see cref="MemoryBudget"/> with the measured resident size.</summary>
public static class MemoryEstimate
{
    /// <summary>Bytes of the data sets held in memory (<see cref="TensorDataSet"/> inputs and targets; streamed
    /// sets count as zero), each distinct set once.</summary>
    public static long DataBytes(DataSplits data)
    {
        long bytes = 0;
        foreach (var set in new[] { data.Train, data.Calibration, data.Evaluation }.Distinct())
            if (set is TensorDataSet t)
                bytes += TensorBytes(t.Inputs) + (t.Targets is { } y ? TensorBytes(y) : 0);
        return bytes;
    }

    /// <summary>Refuses a checkpoint whose tensors (as its header describes them, read before any data) plus
    /// <paramref name="dataBytes"/> exceed <paramref name="limit"/>.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/>, or the reader's own errors.</exception>
    public static void CheckCheckpoint(string path, long dataBytes, long limit)
    {
        long modelBytes;
        using (var reader = CheckpointFormats.Open(path))
            modelBytes = reader.Tensors.Aggregate(0L, (sum, t) => checked(sum + t.ByteCount));
        Check(modelBytes, dataBytes, limit, $"{path}: the checkpoint");
    }

    /// <summary>The budget plugins get: the loaded model's tensors plus the data are resident.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/> when they already exceed the limit.</exception>
    public static MemoryBudget Budget(CompressibleModel model, long dataBytes, long limit)
    {
        long modelBytes = model.NamedTensors().Sum(x => TensorBytes(x.Tensor));
        Check(modelBytes, dataBytes, limit, "the loaded model");
        return new MemoryBudget(limit, modelBytes + dataBytes);
    }

    private static void Check(long modelBytes, long dataBytes, long limit, string what)
    {
        if (modelBytes + dataBytes <= limit) return;
        string data = dataBytes > 0 ? $" and the data ({MemoryBudget.Format(dataBytes)}) exceed" : " exceeds";
        throw new CompressException(ErrorKind.MemoryLimit,
            $"{what} ({MemoryBudget.Format(modelBytes)}){data} --max-memory {MemoryBudget.Format(limit)}");
    }

    private static long TensorBytes(TorchSharp.torch.Tensor t) => t.NumberOfElements * t.ElementSize;
}
