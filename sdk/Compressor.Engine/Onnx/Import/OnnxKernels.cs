using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>The table of ONNX operators (default domain) the importer runs, and helpers shared by the kernels.</summary>
internal static class OnnxKernels
{
    private static readonly Dictionary<string, OnnxKernel> Table = Build();

    /// <summary>The operators supported, sorted.</summary>
    public static IEnumerable<string> Supported => Table.Keys.OrderBy(k => k, StringComparer.Ordinal);

    /// <summary>The kernel of <paramref name="opType"/>, or false.</summary>
    public static bool TryGet(string opType, out OnnxKernel kernel) => Table.TryGetValue(opType, out kernel!);

    private static Dictionary<string, OnnxKernel> Build()
    {
        var table = new Dictionary<string, OnnxKernel>(StringComparer.Ordinal);
        ElementwiseKernels.Register(table);
        ShapeKernels.Register(table);
        ReductionKernels.Register(table);
        NeuralKernels.Register(table);
        return table;
    }

    /// <summary>Input <paramref name="index"/>, which must be present.</summary>
    public static Tensor In(this OnnxNode node, Tensor?[] inputs, int index) =>
        index < inputs.Length && inputs[index] is { } t ? t : throw node.Error($"input {index} is missing");

    /// <summary>Input <paramref name="index"/>, or null when omitted.</summary>
    public static Tensor? Opt(Tensor?[] inputs, int index) => index < inputs.Length ? inputs[index] : null;

    /// <summary>The values of a small integer tensor (shapes, axes, indices).</summary>
    public static long[] Longs(Tensor t)
    {
        using var cpu = t.to(ScalarType.Int64, CPU).contiguous();
        return cpu.data<long>().ToArray();
    }

    /// <summary>The value of a one-element tensor as a double.</summary>
    public static double Scalar(Tensor t)
    {
        using var cpu = t.to(ScalarType.Float64, CPU).contiguous();
        return cpu.data<double>()[0];
    }

    /// <summary><paramref name="axis"/> made non-negative for a tensor of <paramref name="rank"/>.</summary>
    public static long Axis(this OnnxNode node, long axis, long rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1)) throw node.Error($"axis {axis} is out of range for rank {rank}");
        return a;
    }

    /// <summary>One output.</summary>
    public static Tensor[] One(Tensor t) => [t];
}
