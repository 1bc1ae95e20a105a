using Compressor.Engine.Onnx.Export;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>Root-mean-square normalisation (Llama's <c>LlamaRMSNorm</c>): weight · x / √(mean(x²) + eps) over the last
/// axis, computed in float32. Parameter <c>weight</c> (ones at initialisation).</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Creates the norm.</summary>
    public RmsNorm(long dim, double eps) : base("RMSNorm")
    {
        Eps = eps;
        register_parameter("weight", new TorchSharp.Modules.Parameter(ones(dim)));
    }

    /// <summary>The epsilon added to the mean square.</summary>
    public double Eps { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var variance = x.pow(2).mean([-1L], keepdim: true);
        var h = x.mul(variance.add(Eps).rsqrt());
        return get_parameter("weight")!.mul(h).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext c, IReadOnlyList<string> inputs)
    {
        c.RequireOpset("", 18);
        string x = inputs[0];
        string mean = c.AddNode("ReduceMean", [c.AddNode("Mul", x, x), c.Int64Constant(-1)], [c.UniqueName("ReduceMean")],
            new Dictionary<string, object> { ["keepdims"] = 1L });
        string inverse = c.AddNode("Reciprocal", c.AddNode("Sqrt", c.AddNode("Add", mean, c.FloatConstant((float)Eps))));
        using var w = get_parameter("weight")!.detach();
        return [c.AddNode("Mul", c.AddTensor("weight", w), c.AddNode("Mul", x, inverse))];
    }
}
