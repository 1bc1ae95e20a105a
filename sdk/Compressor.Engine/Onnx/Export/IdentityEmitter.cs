using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Modules that are the identity at inference (Dropout, Identity): no node, the input value passes through.</summary>
internal sealed class IdentityEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is Dropout or Identity;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs) => [inputs[0]];
}
