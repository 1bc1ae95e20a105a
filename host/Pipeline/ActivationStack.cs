using Compressor.Engine.Architectures;
using Compressor.Engine.Models;
using Compressor.Engine.Streaming;
using Compressor.Sdk;
using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Host.Pipeline;

/// <summary>The calibration activations of a streamed run at the current block boundary: first the embeddings of the
/// calibration token ids (through the shell), then, after each block is compressed, that block's outputs on them —
/// computed by the compressed block, as a run holding the whole model computes the next block's inputs through the
/// already compressed prefix. One boundary is kept at a time (two while advancing), in memory up to the budget and on
/// disk past it (<see cref="ActivationSet"/>).</summary>
public sealed class ActivationStack : IDisposable
{
    /// <summary>Samples per forward when computing activations.</summary>
    public const int BatchSize = 8;

    private readonly string _folder;
    private readonly long _budget;
    private readonly CancellationToken _cancellation;
    private readonly long[] _sampleShape;
    private int _boundary;

    public ActivationStack(StreamedCheckpoint checkpoint, EngineModel shell, IDataSet calibration, string workRoot, long budget, CancellationToken cancellation)
    {
        _folder = Path.Combine(workRoot, StreamingStage.SectionName, "activations");
        _budget = budget;
        _cancellation = cancellation;
        long count = calibration.Count;
        long tokens;
        using (var first = calibration.Batches(1).FirstOrDefault() ?? throw new CompressException(ErrorKind.InvalidInput, $"the calibration data {calibration.Name} is empty"))
        {
            if (first.Input.dtype != ScalarType.Int64 || first.Input.dim() != 2)
                throw new CompressException(ErrorKind.InvalidInput, $"streaming a decoder needs token ids [N, T] as calibration data; {calibration.Name} holds [{string.Join(", ", first.Input.shape)}] {first.Input.dtype}");
            tokens = first.Input.shape[1];
        }
        _sampleShape = [tokens, checkpoint.HiddenSize];
        var stack = (IDecoderStack)shell.Module;
        Current = Create(count);
        using var noGrad = no_grad();
        foreach (var batch in calibration.Batches(BatchSize))
            using (batch)
            {
                _cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                Current.Append(stack.Embed(batch.Input));
            }
    }

    /// <summary>The activations at the current boundary (the next unit's inputs).</summary>
    public ActivationSet Current { get; private set; }

    /// <summary>Bytes held in memory now and while advancing (two boundaries).</summary>
    public long ResidentBytes => Current.OnDisk ? 0 : 2 * ActivationSet.BytesOf(Current.Count, _sampleShape);

    /// <summary>Replaces the activations by <paramref name="block"/>'s outputs on them.</summary>
    public void Advance(UnitModel block)
    {
        var next = Create(Current.Count);
        try
        {
            using var noGrad = no_grad();
            foreach (var batch in Current.Batches(BatchSize))
                using (batch)
                {
                    _cancellation.ThrowIfCancellationRequested();
                    using var scope = NewDisposeScope();
                    next.Append(block.Forward(batch.Input));
                }
        }
        catch
        {
            next.Dispose();
            throw;
        }
        Current.Dispose();
        Current = next;
    }

    private ActivationSet Create(long count)
    {
        bool disk = ActivationSet.BytesOf(count, _sampleShape) > _budget;
        string name = $"calibration activations at block boundary {_boundary}";
        var set = ActivationSet.Create(name, count, _sampleShape, disk ? Path.Combine(_folder, $"boundary-{_boundary}.f32") : null);
        _boundary++;
        return set;
    }

    public void Dispose() => Current.Dispose();
}
