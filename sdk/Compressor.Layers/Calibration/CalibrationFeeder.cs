using Compressor.Sdk;
using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Layers.Calibration;

/// <summary>Runs a model on unlabelled calibration batches. A one-input model takes the batch as is; a model with
/// named inputs (an imported encoder such as MiniLM) gets token ids [N, T], trimmed to the longest unpadded sequence
/// of the batch, fed as the model feeds itself a batch (its attention mask and token types). Shared by the plugins that
/// observe layer inputs on calibration data (JLCM's Hessians, GPTQ's).</summary>
public sealed class CalibrationFeeder : IDisposable
{
    private readonly List<Tensor> _batches;
    private readonly string _owner;

    /// <summary>Takes the first <paramref name="samples"/> samples of <paramref name="data"/> (seeded shuffle) in batches;
    /// <paramref name="owner"/> (the plugin's name) begins its error messages.</summary>
    public CalibrationFeeder(IDataSet data, int samples, int batchSize, int seed, string owner)
    {
        _owner = owner;
        _batches = [];
        long taken = 0;
        foreach (var batch in data.Batches(batchSize, shuffle: true, seed: seed))
        {
            using (batch)
            {
                long n = Math.Min(batch.Input.shape[0], samples - taken);
                using var head = batch.Input.narrow(0, 0, n);
                _batches.Add(head.clone().DetachFromDisposeScope());
                taken += n;
            }
            if (taken >= samples) break;
        }
        if (_batches.Count == 0) throw new CompressException(ErrorKind.InvalidInput, $"{_owner}: the calibration data {data.Name} is empty");
        Samples = taken;
    }

    /// <summary>Frees the held batches.</summary>
    public void Dispose()
    {
        foreach (var b in _batches) b.Dispose();
        _batches.Clear();
    }

    /// <summary>Where the model runs.</summary>
    public Device Device { get; init; } = CPU;

    /// <summary>Samples held.</summary>
    public long Samples { get; }

    /// <summary>Number of batches.</summary>
    public int BatchCount => _batches.Count;

    /// <summary>Runs <paramref name="model"/> on every batch (no grad) and returns nothing: layers observe their inputs.</summary>
    public void RunAll(CompressibleModel model, CancellationToken cancellation)
    {
        for (int i = 0; i < _batches.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            Run(model, i);
        }
    }

    /// <summary>The model's outputs on batch <paramref name="index"/> (caller's dispose scope), flattened and
    /// concatenated over the named outputs; on its first <paramref name="limit"/> samples when given.</summary>
    public Tensor Run(CompressibleModel model, int index, int? limit = null)
    {
        using var noGrad = no_grad();
        var x = Batch(index, limit);
        if (model.InputNames.Count == 1 && model.OutputNames.Count == 1) return model.Forward(x).flatten();
        var outputs = model.Run(Inputs(model, index, limit));
        return cat(model.OutputNames.Where(outputs.ContainsKey).Select(n => outputs[n].to_type(ScalarType.Float32).flatten()).ToList(), 0);
    }

    private Tensor Batch(int index, int? limit)
    {
        var x = _batches[index];
        if (limit is { } n && n < x.shape[0]) x = x.narrow(0, 0, n);
        return x.to(Device);
    }

    /// <summary>The named model inputs of batch <paramref name="index"/> (its first <paramref name="limit"/> samples when
    /// given; caller's dispose scope), as the model feeds itself a data batch (<see cref="CompressibleModel.Feed"/>).
    /// Token ids [N, T] are first trimmed to the longest unpadded sequence of the batch: trailing all-padding columns
    /// change no output at the other positions and only cost time.</summary>
    public Dictionary<string, Tensor> Inputs(CompressibleModel model, int index, int? limit = null)
    {
        var x = Batch(index, limit);
        if (x.dtype == ScalarType.Int64 && x.dim() == 2)
        {
            long t = Math.Max(1, x.ne(0).to_type(ScalarType.Int64).mul(arange(1, x.shape[1] + 1, ScalarType.Int64, x.device)).max().item<long>());
            x = x.narrow(1, 0, Math.Min(t, x.shape[1]));
        }
        else if (model.InputNames.Count != 1)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{_owner}: the model takes {model.InputNames.Count} inputs ({string.Join(", ", model.InputNames)}); calibration data must be token ids [N, T]");
        }
        return new Dictionary<string, Tensor>(model.Feed(x), StringComparer.Ordinal);
    }
}
