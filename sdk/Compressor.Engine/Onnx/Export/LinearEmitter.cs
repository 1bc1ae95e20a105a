using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary><c>Linear</c>: MatMul with the weight stored transposed ([in, out], as ONNX exporters write it), then Add
/// of the bias. MatMul (not Gemm) so that inputs of any rank work.</summary>
internal sealed class LinearEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is Linear;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var linear = (Linear)context.Module;
        using var scope = NewDisposeScope();
        string w = context.AddTensor("weight_t", linear.weight!.detach().t());
        string y = context.AddNode("MatMul", inputs[0], w);
        if (linear.bias is not null) y = context.AddNode("Add", y, context.AddTensor("bias", linear.bias.detach()));
        return [y];
    }
}
