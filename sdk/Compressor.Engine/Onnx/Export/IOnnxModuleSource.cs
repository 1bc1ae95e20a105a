using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Stands real modules in for declared ones while a model whose tensors are not all in memory is exported
/// (<see cref="OnnxExporter.ExportStreamed"/>): the root is declared on the meta device, and each module the source
/// leases (a transformer block read from the checkpoint, the embeddings and head) is emitted in its place and released
/// as soon as its nodes and initializers are written, its initializers' bytes then moved to the side file.</summary>
public interface IOnnxModuleSource
{
    /// <summary>The module to emit for <paramref name="declared"/> (named <paramref name="name"/>), or null to emit
    /// <paramref name="declared"/> itself (a container whose children are leased one by one).</summary>
    OnnxModuleLease? Lease(string name, nn.Module declared);
}

/// <summary>A module lent to the exporter.</summary>
/// <param name="Module">The module, with its tensors.</param>
/// <param name="Release">Frees it once emitted (null: owned elsewhere).</param>
public sealed record OnnxModuleLease(nn.Module Module, IDisposable? Release);
