using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary><c>Flatten(1, -1)</c> (PyTorch's default): ONNX Flatten with axis 1. Other ranges have no export.</summary>
internal sealed class FlattenEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is Flatten;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var flatten = (Flatten)context.Module;
        if (flatten.start_dim != 1 || flatten.end_dim != -1)
            throw new CompressException(ErrorKind.VerificationFailed, $"{context.ModuleName}: Flatten({flatten.start_dim}, {flatten.end_dim}) has no ONNX export (only 1, -1)");
        return [context.AddNode("Flatten", [inputs[0]], [context.UniqueName("Flatten")], new Dictionary<string, object> { ["axis"] = 1L })];
    }
}
