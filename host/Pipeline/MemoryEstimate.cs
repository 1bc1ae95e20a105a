using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Sdk;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;

namespace Compressor.Host.Pipeline;

/// <summary>The host's side of <c>--max-memory</c>: an estimate of a run's peak resident memory, checked before the
/// input is loaded or hashed, and the <see cref="MemoryBudget"/> plugins get.
/// <para>The estimate is <c>runtime + copies × model + data</c>: <see cref="RuntimeBytes"/> for the .NET runtime,
/// libtorch and ONNX Runtime once loaded; the model's tensor bytes as its checkpoint declares them (built on the
/// meta device and compared with the file, <see cref="ModelIO.Declare"/> — nothing of the model's size is allocated
/// or read first) times <see cref="ModelCopies"/> (<see cref="ModelCopiesWithData"/> when there is data: the reference
/// export and the two evaluation sessions), which covers the transient copies of import, the compressed model, the
/// ONNX export (graph and serialised bytes), ONNX Runtime's session and verification's activations; and the in-memory
/// data. The constants are measured (bench/README.md, "Peak memory"): a run admitted under a limit peaks within the
/// limit plus <see cref="MarginFraction"/> of it. Layer-wise plugins check their own working sets against the budget
/// (<see cref="MemoryBudget.EnsureFits"/>) on top of what the compression phase keeps resident.</para></summary>
public static class MemoryEstimate
{
    /// <summary>The process's own footprint once the runtimes are loaded (measured: <c>compress inspect</c> peaks at
    /// about 300 MB on Linux x64).</summary>
    public const long RuntimeBytes = 320L << 20;

    /// <summary>Peak bytes per model byte of a run without data: the export and verification of a model that stays
    /// float32 is the worst case (measured 10.6 for <c>compress export</c> of MiniLM, 7.6 for rtn 4-bit on it).</summary>
    public const int ModelCopies = 11;

    /// <summary>Peak bytes per model byte of a run with data (the reference export and evaluation on ONNX Runtime too).</summary>
    public const int ModelCopiesWithData = 14;

    /// <summary>The stated margin: an admitted run's peak resident memory stays within the limit × (1 + this).</summary>
    public const double MarginFraction = 0.10;

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

    /// <summary>The peak estimate of a run over a model of <paramref name="modelBytes"/> with <paramref name="dataBytes"/> of data.</summary>
    public static long Peak(long modelBytes, long dataBytes) =>
        Saturating(RuntimeBytes, Saturating(Multiply(modelBytes, dataBytes > 0 ? ModelCopiesWithData : ModelCopies), dataBytes));

    /// <summary>Refuses, before loading or hashing it, a checkpoint whose run would exceed <paramref name="limit"/>:
    /// first on the file's size alone for a self-contained ONNX file, then on what the checkpoint declares
    /// (<see cref="ModelIO.Declare"/>). Returns the model's declared tensor bytes.</summary>
    /// <param name="path">The checkpoint, or a model folder.</param>
    /// <param name="weights">A model folder's weights file (null for a checkpoint file).</param>
    /// <param name="kinds">The layer kinds that rebuild compressed layers.</param>
    /// <param name="foreign">The <c>--arch</c> / <c>--heads</c> of the run.</param>
    /// <param name="dataBytes">The in-memory data's bytes.</param>
    /// <param name="limit">The limit in bytes.</param>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/>, or the reader's own errors.</exception>
    public static long CheckCheckpoint(string path, string? weights, LayerKindSet kinds, ForeignModelOptions? foreign, long dataBytes, long limit)
    {
        string file = weights ?? path;
        long fileBytes = Compressor.Engine.IO.InputFiles.RequireRegular(file);
        // An ONNX file is parsed whole to be declared: its size bounds its tensors, so check that first.
        if (IsOnnx(file)) Check(fileBytes, dataBytes, limit, $"{file}: the model");
        var declared = ModelIO.Declare(path, kinds, null, foreign);
        Check(declared.ModelTensorBytes, dataBytes, limit, $"{path}: the checkpoint");
        return declared.ModelTensorBytes;
    }

    /// <summary>The budget plugins get: the runtime, the loaded model and the data are resident.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/> when they already exceed the limit.</exception>
    public static MemoryBudget Budget(CompressibleModel model, long dataBytes, long limit)
    {
        long modelBytes = model.NamedTensors().Sum(x => TensorBytes(x.Tensor));
        Check(modelBytes, dataBytes, limit, "the loaded model");
        return new MemoryBudget(limit, Saturating(RuntimeBytes, Saturating(modelBytes, dataBytes)));
    }

    /// <summary>Copies of the largest block a streamed run holds at once: the block in float32, the plugin's working set
    /// on its largest layers and the compressed block with the file's transient reads (measured 3.9 on TinyLlama-1.1B
    /// with rtn, bench/README.md "Streaming").</summary>
    public const int StreamedBlockCopies = 4;

    /// <summary>Copies of the shell (embeddings and head, float32) while the head unit is compressed: rtn on a 32000 ×
    /// 2048 output head holds the float weight, its int32 codes, the packed result and the saved entry (measured: the
    /// process at 1.67 GiB on TinyLlama-1.1B, i.e. the runtime and about 2.6 × the 0.52 GB shell, since packing,
    /// group quantization and SQNR work in row chunks; 7.4 before them).</summary>
    public const int StreamedHeadCopies = 4;

    /// <summary>Peak bytes per byte of the compressed checkpoint while ONNX Runtime runs the streamed export's gate, the
    /// shell already freed: the side file mapped, and at ORT_ENABLE_BASIC the float32 weights its DequantizeLinear nodes
    /// decode, which ORT runs ahead of the products (measured in bench/README.md, "Streaming": about 3.3 × the 0.909 GB
    /// checkpoint of TinyLlama-1.1B beside the runtime; 4 keeps a margin).</summary>
    public const int ExportOrtCopies = 4;

    /// <summary>The export phase of a streamed run (<see cref="Compressor.Engine.Streaming.StreamedExport"/>): the runtime,
    /// then the larger of the shell (at most its float32 bytes) beside one block being read and lowered (twice its
    /// float32 bytes: the block as built, then its compressed layers and their ONNX bytes), and ONNX Runtime's sessions
    /// over the compressed checkpoint of <paramref name="compressedBytes"/> (the shell is freed before them); and the data.</summary>
    public static long ExportPeak(Compressor.Engine.Streaming.StreamedCheckpoint checkpoint, long compressedBytes, long dataBytes) =>
        Saturating(RuntimeBytes, Saturating(Math.Max(Saturating(checkpoint.ShellBytes, Multiply(checkpoint.BlockBytes.DefaultIfEmpty(0).Max(), 2)),
            Multiply(compressedBytes, ExportOrtCopies)), dataBytes));

    /// <summary>The compression phase of a streamed run: the runtime, then the larger of the shell (embeddings and head,
    /// float32) beside the largest block's working set and the head unit's own working set, the in-memory activations
    /// and the data.</summary>
    public static long StreamedPeak(Compressor.Engine.Streaming.StreamedCheckpoint checkpoint, long activationBytes, long dataBytes) =>
        Saturating(RuntimeBytes, Saturating(Math.Max(Saturating(checkpoint.ShellBytes, Multiply(checkpoint.BlockBytes.DefaultIfEmpty(0).Max(), StreamedBlockCopies)),
            Multiply(checkpoint.ShellBytes, StreamedHeadCopies)), Saturating(activationBytes, dataBytes)));

    /// <summary>Refuses, from the checkpoint's header alone, a streamed run that cannot fit <paramref name="limit"/>:
    /// its compression phase (<see cref="StreamedPeak"/>), or its export phase on a compressed checkpoint estimated as the
    /// shell in float32 plus the blocks at a quarter of their float32 bytes (weights of at most 8 bits; the real size
    /// is checked again before the export, <see cref="CheckExport"/>).</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/>.</exception>
    public static void CheckStreamed(Compressor.Engine.Streaming.StreamedCheckpoint checkpoint, long dataBytes, long activationBytes, long limit)
    {
        long compress = StreamedPeak(checkpoint, activationBytes, dataBytes);
        long maxBlock = checkpoint.BlockBytes.DefaultIfEmpty(0).Max();
        if (compress > limit)
            throw new CompressException(ErrorKind.MemoryLimit,
                $"{checkpoint.Path}: even streamed block by block the run needs about {MemoryBudget.Format(compress)} ({MemoryBudget.Format(checkpoint.ShellBytes)} of embeddings and head " +
                $"beside {StreamedBlockCopies} × its largest block of {MemoryBudget.Format(maxBlock)}, or {StreamedHeadCopies} × them while the head is compressed{(dataBytes > 0 ? $", the data ({MemoryBudget.Format(dataBytes)})" : "")} " +
                $"and {MemoryBudget.Format(RuntimeBytes)} of runtime), over --max-memory {MemoryBudget.Format(limit)}");
        long compressed = Saturating(checkpoint.ShellBytes, checkpoint.BlockBytes.Sum() / 4);
        long export = ExportPeak(checkpoint, compressed, dataBytes);
        if (export > limit)
            throw new CompressException(ErrorKind.MemoryLimit,
                $"{checkpoint.Path}: the export of the compressed model (about {MemoryBudget.Format(compressed)}: the embeddings and head in float32, the blocks at 8 bits or less) " +
                $"needs about {MemoryBudget.Format(export)}, over --max-memory {MemoryBudget.Format(limit)}");
    }

    /// <summary>Refuses the export of a compressed checkpoint of <paramref name="compressedBytes"/> that cannot fit.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/>.</exception>
    public static void CheckExport(Compressor.Engine.Streaming.StreamedCheckpoint checkpoint, long compressedBytes, long dataBytes, long limit)
    {
        long export = ExportPeak(checkpoint, compressedBytes, dataBytes);
        if (export > limit)
            throw new CompressException(ErrorKind.MemoryLimit,
                $"the compressed checkpoint ({MemoryBudget.Format(compressedBytes)}) needs about {MemoryBudget.Format(export)} to export and verify block by block " +
                $"(the shell beside one block, then {ExportOrtCopies} × its size in ONNX Runtime, and the runtime), over --max-memory {MemoryBudget.Format(limit)}");
    }

    private static void Check(long modelBytes, long dataBytes, long limit, string what)
    {
        long peak = Peak(modelBytes, dataBytes);
        if (peak <= limit) return;
        string data = dataBytes > 0 ? $", the data ({MemoryBudget.Format(dataBytes)})" : "";
        throw new CompressException(ErrorKind.MemoryLimit,
            $"{what} ({MemoryBudget.Format(modelBytes)}) needs about {MemoryBudget.Format(peak)} to run ({(dataBytes > 0 ? ModelCopiesWithData : ModelCopies)} × the model{data} " +
            $"and {MemoryBudget.Format(RuntimeBytes)} of runtime), over --max-memory {MemoryBudget.Format(limit)}");
    }

    private static bool IsOnnx(string path)
    {
        try
        {
            using var fs = File.OpenRead(path);
            var head = new byte[64];
            int n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            return new Compressor.Engine.Onnx.Import.OnnxFormat().Sniff(head.AsSpan(0, n), fs.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static long Multiply(long a, int k) => a > long.MaxValue / k ? long.MaxValue : a * k;

    private static long Saturating(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;

    private static long TensorBytes(TorchSharp.torch.Tensor t) => t.NumberOfElements * t.ElementSize;
}
