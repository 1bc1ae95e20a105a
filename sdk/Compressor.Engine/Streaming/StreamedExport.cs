using Compressor.Engine.Architectures;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>Exports and verifies the compressed checkpoint of a streamed run without holding the compressed model
/// whole. The graph's structure comes from the model declared on the meta device; the shell (embeddings, final
/// normalisation, output head) is resident, and each block is read from the checkpoint by offset when the exporter
/// reaches it and freed once its nodes are written, its initializers going to the side file at once
/// (<see cref="OnnxExporter.ExportStreamed"/>). The verification gate's TorchSharp side runs the key/value-cache graph
/// block by block on the same checkpoint (<see cref="IDecoderStack.StartCached"/>, <see cref="IDecoderStack.BlockCached"/>):
/// every case's logits and presents as the whole model computes them, and each block's output hidden states on the
/// first case, which are compared in dB with the ONNX graph's value at that block boundary. Resident at most: the
/// shell, one block and the cases' activations (short sequences), then ONNX Runtime's session.</summary>
public sealed class StreamedExport : IOnnxModuleSource, IDisposable
{
    private readonly StreamedCheckpoint _checkpoint;
    private readonly EngineModel _shell;
    private readonly Dictionary<string, int> _blocks;
    private readonly Dictionary<string, nn.Module> _shellModules;

    private StreamedExport(StreamedCheckpoint checkpoint, EngineModel shell)
    {
        _checkpoint = checkpoint;
        _shell = shell;
        _blocks = checkpoint.BlockNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        // Modules of the shell that stand for themselves: everything but its one block slot (which each loaded block
        // fills in turn) and the slot's ancestors.
        string blockSlot = ((IDecoderStack)shell.Module).BlockName(0);
        _shellModules = new Dictionary<string, nn.Module>(StringComparer.Ordinal);
        foreach (var (name, module) in shell.NamedModules())
        {
            bool ancestor = name.Length == 0 || blockSlot == name || blockSlot.StartsWith(name + ".", StringComparison.Ordinal);
            bool inside = name.StartsWith(blockSlot + ".", StringComparison.Ordinal);
            if (!ancestor && !inside) _shellModules[name] = module;
        }
    }

    /// <summary>Opens the streamed export of <paramref name="checkpoint"/> (a compressed checkpoint,
    /// <see cref="StreamedCheckpoint.OpenCompressed"/>): its shell is loaded now. The caller disposes both.</summary>
    public static StreamedExport Open(StreamedCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        return new StreamedExport(checkpoint, checkpoint.LoadShell());
    }

    /// <inheritdoc/>
    public OnnxModuleLease? Lease(string name, nn.Module declared)
    {
        ObjectDisposedException.ThrowIf(_released, this);
        if (_blocks.TryGetValue(name, out int index))
        {
            var unit = _checkpoint.LoadBlock(index);
            return new OnnxModuleLease(unit.Block!, unit);
        }
        return _shellModules.TryGetValue(name, out var module) ? new OnnxModuleLease(module, null) : null;
    }

    /// <summary>Writes <paramref name="path"/> (and its side file) from <paramref name="declared"/> (the compressed model
    /// on the meta device, <see cref="StreamedCheckpoint.Declare"/>).</summary>
    public OnnxExportResult Export(EngineModel declared, string path, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(declared);
        return OnnxExporter.ExportStreamed(declared, this, path, _checkpoint.Kinds, options);
    }

    /// <summary>The verification gate on <paramref name="export"/>, its TorchSharp side computed block by block
    /// (<see cref="OnnxVerifier.VerifyStreamed"/>).</summary>
    public VerificationResult Verify(EngineModel declared, OnnxExportResult export, VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(declared);
        ArgumentNullException.ThrowIfNull(export);
        options ??= new VerificationOptions();
        if (declared.Module is not IOnnxGraphReference reference)
            throw new CompressException(ErrorKind.VerificationFailed, $"architecture {declared.ArchitectureName} has no key/value-cache graph to verify block by block");
        var cases = reference.VerificationCases(options.Seed);
        var (expected, blocks) = Reference(cases, export.Outputs.Select(o => o.Name).ToList());
        // The shell (the float32 embeddings, the head) is not needed past the reference: freed before ONNX Runtime
        // loads the exported file, so that the two are never resident together.
        ReleaseShell();
        var values = export.LeasedOutputs.Where(kv => _blocks.ContainsKey(kv.Key)).Select(kv => (kv.Key, kv.Value)).ToList();
        return OnnxVerifier.VerifyStreamed(export, cases, expected, values, blocks, options);
    }

    /// <summary>Every case's graph outputs (logits, presents) computed block by block, and each block's output hidden
    /// states on the first case, by block name.</summary>
    public (List<Dictionary<string, (float[] Values, long[] Shape)>> Outputs, Dictionary<string, (float[] Values, long[] Shape)> Blocks) Reference(
        IReadOnlyList<OnnxVerificationCase> cases, IReadOnlyList<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ObjectDisposedException.ThrowIf(_released, this);
        var stack = (IDecoderStack)_shell.Module;
        int layers = _checkpoint.BlockNames.Count;
        var outputs = cases.Select(_ => new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal)).ToList();
        var blocks = new Dictionary<string, (float[] Values, long[] Shape)>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        _shell.Module.eval();
        var starts = cases.Select(c => stack.StartCached(c.Inputs, layers)).ToList();
        var hidden = starts.Select(s => s.Hidden).ToArray();
        for (int i = 0; i < layers; i++)
        {
            using var unit = _checkpoint.LoadBlock(i);
            var block = unit.Block!;
            block.eval();
            for (int c = 0; c < cases.Count; c++)
            {
                using var blockScope = NewDisposeScope();
                var (h, k, v) = stack.BlockCached(block, starts[c], hidden[c], i);
                outputs[c][DecoderCacheNames.PresentKey(i)] = Host(k);
                outputs[c][DecoderCacheNames.PresentValue(i)] = Host(v);
                if (c == 0) blocks[_checkpoint.BlockNames[i]] = Host(h);
                hidden[c] = h.MoveToOuterDisposeScope();
            }
        }
        for (int c = 0; c < cases.Count; c++)
        {
            using var logits = stack.Head(hidden[c]);
            outputs[c][DecoderCacheNames.Logits] = Host(logits);
            foreach (var name in outputNames)
                if (!outputs[c].ContainsKey(name))
                    throw new CompressException(ErrorKind.VerificationFailed, $"the streamed reference does not compute graph output '{name}'");
        }
        return (outputs, blocks);
    }

    private static (float[] Values, long[] Shape) Host(Tensor t)
    {
        using var c = t.detach().cpu().to_type(ScalarType.Float32).contiguous();
        return (c.data<float>().ToArray(), c.shape);
    }

    /// <summary>Disposes the shell and collects what the collector still holds of its tensors; the export can no
    /// longer lease modules afterwards (<see cref="Verify"/> calls it once its reference is computed).</summary>
    private void ReleaseShell()
    {
        if (_released) return;
        _released = true;
        _shellModules.Clear();
        _shell.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private bool _released;

    /// <inheritdoc/>
    public void Dispose() => ReleaseShell();
}
