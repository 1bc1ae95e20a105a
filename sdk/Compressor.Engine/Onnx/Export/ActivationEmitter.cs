using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Elementwise activations: ReLU → Relu (Max(x, 0) right after a compressed DQ → MatMul layer), Tanh → Tanh, Sigmoid → Sigmoid, SiLU → x·Sigmoid(x), GELU (exact,
/// erf form) → 0.5·x·(1 + Erf(x/√2)), which ORT fuses into its Gelu kernel, and GELU (tanh approximation) →
/// 0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³))).</summary>
internal sealed class ActivationEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is ReLU or Tanh or Sigmoid or SiLU or GELU;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        switch (context.Module)
        {
            case ReLU:
                // After a compressed DQ → MatMul layer, Max(x, 0): ORT 1.31 does not fuse DQ → MatMul into MatMulNBits
                // when a Relu (or Clip) follows (measured: 1 of 3 layers fused in a ReLU MLP, 3 of 3 with Max).
                // Elsewhere Relu, which ORT fuses into Gemm/Conv (FusedGemm, FusedConv).
                return OnnxGraphBuilder.IsCompressedMatMulOutput(context, x) ? [context.AddNode("Max", x, context.FloatConstant(0f))] : [context.AddNode("Relu", x)];
            case Tanh: return [context.AddNode("Tanh", x)];
            case Sigmoid: return [context.AddNode("Sigmoid", x)];
            case SiLU: return [context.AddNode("Mul", x, context.AddNode("Sigmoid", x))];
            case GELU gelu: return [Gelu(context, x, gelu.approximate.ToString().Equals("tanh", StringComparison.OrdinalIgnoreCase))];
            default: throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>GELU nodes on <paramref name="x"/>: exact (erf) or the tanh approximation; shared with the containers
    /// that apply GELU functionally (the built-in transformers).</summary>
    internal static string Gelu(IOnnxExportContext context, string x, bool tanh)
    {
        string inner;
        if (tanh)
        {
            string cube = context.AddNode("Mul", x, context.AddNode("Mul", x, x));
            string sum = context.AddNode("Add", x, context.AddNode("Mul", cube, context.FloatConstant(0.044715f)));
            inner = context.AddNode("Tanh", context.AddNode("Mul", sum, context.FloatConstant((float)Math.Sqrt(2 / Math.PI))));
        }
        else
        {
            inner = context.AddNode("Erf", context.AddNode("Div", x, context.FloatConstant((float)Math.Sqrt(2))));
        }
        string onePlus = context.AddNode("Add", inner, context.FloatConstant(1f));
        return context.AddNode("Mul", context.AddNode("Mul", x, context.FloatConstant(0.5f)), onePlus);
    }
}
