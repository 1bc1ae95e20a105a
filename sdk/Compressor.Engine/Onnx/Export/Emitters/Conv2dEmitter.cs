using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Export.Emitters;

/// <summary><c>Conv2d</c> (zero padding): Conv with its kernel, strides, pads, dilations and groups.</summary>
internal sealed class Conv2dEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is Conv2d;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var conv = (Conv2d)context.Module;
        if (conv.padding_mode != TorchSharp.PaddingModes.Zeros)
            throw new CompressException(ErrorKind.VerificationFailed, $"{context.ModuleName}: Conv2d padding mode {conv.padding_mode} has no ONNX export");
        if (conv.padding is null)
            throw new CompressException(ErrorKind.VerificationFailed, $"{context.ModuleName}: Conv2d with 'same'/'valid' padding strings has no ONNX export; use explicit padding");
        string w = context.AddTensor("weight", conv.weight!.detach());
        var ins = new List<string> { inputs[0], w };
        if (conv.bias is not null) ins.Add(context.AddTensor("bias", conv.bias.detach()));
        return [context.AddNode("Conv", ins, [context.UniqueName("Conv")], ConvAttributes.Of(conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups))];
    }
}
