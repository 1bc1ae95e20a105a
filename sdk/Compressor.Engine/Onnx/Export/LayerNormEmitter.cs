using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary><c>LayerNorm</c>: LayerNormalization (opset 17) over the trailing normalized dimensions, with ones/zeros
/// for scale and bias when the layer has no affine parameters.</summary>
internal sealed class LayerNormEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is LayerNorm;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var norm = (LayerNorm)context.Module;
        using var scope = NewDisposeScope();
        long[] shape = norm.normalized_shape;
        string scale = context.AddTensor("weight", norm.weight is { } w ? w.detach() : ones(shape));
        string bias = context.AddTensor("bias", norm.bias is { } b ? b.detach() : zeros(shape));
        context.RequireOpset("", 17);
        return [context.AddNode("LayerNormalization", [inputs[0], scale, bias], [context.UniqueName("LayerNormalization")],
            new SortedDictionary<string, object>(StringComparer.Ordinal) { ["axis"] = (long)-shape.Length, ["epsilon"] = (float)norm.eps })];
    }
}
