using System.Diagnostics;
using Compressor.Sdk;

namespace Compressor.Fuzz;

/// <summary>What one input did.</summary>
public enum FuzzOutcome
{
    /// <summary>Parsed (the bytes happened to be a valid file).</summary>
    Accepted,
    /// <summary>Refused with a one-line <see cref="CompressException"/>.</summary>
    Refused,
}

/// <summary>Runs one input through a target and checks the invariants: only a one-line
/// <see cref="CompressException"/> may escape; managed allocation and tensor data stay proportional to the input
/// (a header that lies about sizes must not make the reader allocate what it claims); the parse ends within a time
/// limit; the process's peak resident memory (native allocations included) grows by at most a fixed budget plus a
/// multiple of the input's size; the targets that read paths a file names never produce the bytes of a file outside
/// their base folder (<see cref="FuzzFolders"/>). Integer overflow in size arithmetic shows as an <see cref="OverflowException"/> when the SDK is built with
/// <c>CheckForOverflowUnderflow</c> (the campaign's build), and as a wrong size caught by the other checks otherwise.</summary>
public static class FuzzHarness
{
    /// <summary>Bytes a parse may allocate whatever its input: parser tables, 64 KiB copy buffers, JSON readers.</summary>
    public const long FixedAllocationBytes = 16L << 20;

    /// <summary>Managed bytes a parse may allocate per input byte: a JSON token tree or a protobuf object graph is a
    /// few dozen bytes per input byte; 128 leaves room and still refuses anything sized by a lying header.</summary>
    public const long AllocationPerInputByte = 128;

    /// <summary>Tensor bytes a parse may produce per input byte: 100, the largest compression ratio the zip reader
    /// accepts (every other format stores its tensors raw, so produces at most the input's size).</summary>
    public const long TensorBytesPerInputByte = 100;

    /// <summary>Peak resident memory (native included) a parse may add whatever its input: libtorch's allocator
    /// caches, ONNX Runtime-free parsing; far below any size a lying header claims.</summary>
    public const long FixedPeakBytes = 256L << 20;

    /// <summary>Runs <paramref name="input"/> through <paramref name="target"/>, writing it to <paramref name="scratchPath"/>
    /// first for the targets that read files.</summary>
    /// <exception cref="FuzzInvariantException">An invariant broke.</exception>
    public static FuzzOutcome Execute(FuzzTarget target, byte[] input, string scratchPath, TimeSpan timeLimit)
    {
        File.WriteAllBytes(scratchPath, input);
        long residentBefore = PeakMemoryProbe.Reset();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        long tensorBytes = 0;
        FuzzOutcome outcome;
        try
        {
            tensorBytes = target.Parse(scratchPath, input);
            outcome = FuzzOutcome.Accepted;
        }
        catch (CompressException e)
        {
            if (e.Message.Contains('\n') || e.Message.Length == 0)
                throw new FuzzInvariantException($"{target.Name}: CompressException message is not one line: {e.Message}", e);
            outcome = FuzzOutcome.Refused;
        }
        catch (FuzzInvariantException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw new FuzzInvariantException($"{target.Name}: {e.GetType().FullName} escaped: {e.Message}", e);
        }
        clock.Stop();
        long peakGrowth = PeakMemoryProbe.PeakBytes() - residentBefore;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long length = input.LongLength;
        if (allocated > FixedAllocationBytes + AllocationPerInputByte * length)
            throw new FuzzInvariantException($"{target.Name}: allocated {allocated} managed bytes for a {length}-byte input");
        if (residentBefore > 0 && peakGrowth > FixedPeakBytes + TensorBytesPerInputByte * 4 * length)
            throw new FuzzInvariantException($"{target.Name}: peak resident memory grew by {peakGrowth >> 20} MiB for a {length}-byte input (budget {(FixedPeakBytes + TensorBytesPerInputByte * 4 * length) >> 20} MiB)");
        if (tensorBytes > TensorBytesPerInputByte * Math.Max(length, 1))
            throw new FuzzInvariantException($"{target.Name}: produced {tensorBytes} bytes of tensors from a {length}-byte input");
        if (clock.Elapsed > timeLimit)
            throw new FuzzInvariantException($"{target.Name}: took {clock.Elapsed.TotalSeconds:F2} s (limit {timeLimit.TotalSeconds} s)");
        return outcome;
    }
}
