using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Emits ONNX nodes for leaf modules the engine does not own (TorchSharp's <c>Linear</c>, <c>Conv2d</c>,
/// activations, …), which cannot implement <see cref="IOnnxExportable"/> themselves. Listed in
/// <see cref="OnnxModuleEmitters"/>.</summary>
internal interface IOnnxModuleEmitter
{
    /// <summary>Whether this emitter handles <paramref name="module"/>.</summary>
    bool CanEmit(nn.Module module);

    /// <summary>Adds the nodes of <see cref="IOnnxExportContext.Module"/>; returns its output value names.</summary>
    IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs);
}
