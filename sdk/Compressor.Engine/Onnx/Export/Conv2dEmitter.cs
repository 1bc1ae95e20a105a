using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary><c>Conv2d</c> (zero padding): Conv with its kernel, strides, pads, dilations and groups (symmetric pads
/// [p0, p1, p0, p1]; attributes in key order).</summary>
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
        var attributes = new SortedDictionary<string, object>(StringComparer.Ordinal)
        {
            ["dilations"] = conv.dilation.ToArray(),
            ["group"] = conv.groups,
            ["kernel_shape"] = conv.kernel_size.ToArray(),
            ["pads"] = new[] { conv.padding[0], conv.padding[1], conv.padding[0], conv.padding[1] },
            ["strides"] = conv.stride.ToArray(),
        };
        return [context.AddNode("Conv", ins, [context.UniqueName("Conv")], attributes)];
    }
}
