using Compressor.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>ONNX reductions (ReduceMean, ReduceSum, …), ArgMax/ArgMin and TopK.</summary>
internal static class ReductionKernels
{
    public static void Register(Dictionary<string, OnnxKernel> t)
    {
        Reduce(t, "ReduceMean", 18, (x, d, k) => x.mean(d, k));
        Reduce(t, "ReduceSum", 13, (x, d, k) => x.sum(d, k));
        Reduce(t, "ReduceMax", 18, (x, d, k) => x.amax(d, k));
        Reduce(t, "ReduceMin", 18, (x, d, k) => x.amin(d, k));
        Reduce(t, "ReduceProd", 18, (x, d, k) => PerDim(x, d, dim => x2 => x2.prod(dim, k)));
        Reduce(t, "ReduceSumSquare", 18, (x, d, k) => { using var sq = x * x; return sq.sum(d, k); });
        Reduce(t, "ReduceL1", 18, (x, d, k) => { using var ab = x.abs(); return ab.sum(d, k); });
        Reduce(t, "ReduceL2", 18, (x, d, k) => { using var sq = x * x; using var s = sq.sum(d, k); return s.sqrt(); });
        Reduce(t, "ReduceLogSumExp", 18, (x, d, k) => PerDim(x, d, dim => x2 => x2.logsumexp(dim, k)));
        Arg(t, "ArgMax", (x, d, k) => x.argmax(d, k));
        Arg(t, "ArgMin", (x, d, k) => x.argmin(d, k));
        t["TopK"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long k = n.Opset >= 10 ? OnnxKernels.Longs(n.In(x, 1))[0] : n.Attributes.Int("k", 1);
            long axis = n.Axis(n.Attributes.Int("axis", -1), a.shape.Length);
            var (values, indices) = topk(a, (int)k, (int)axis, n.Attributes.Int("largest", 1) != 0, true);
            return [values, indices];
        };
    }

    /// <summary>Reduces one dimension at a time, last first (for reductions TorchSharp offers per dimension only).</summary>
    private static Tensor PerDim(Tensor x, long[] dims, Func<long, Func<Tensor, Tensor>> reduce)
    {
        var r = x.alias();
        foreach (var dim in dims.OrderByDescending(v => v))
        {
            var next = reduce(dim)(r);
            r.Dispose();
            r = next;
        }
        return r;
    }

    private static void Reduce(Dictionary<string, OnnxKernel> t, string op, int axesInputSince, Func<Tensor, long[], bool, Tensor> f) =>
        t[op] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long[]? axes = n.Opset >= axesInputSince ? (OnnxKernels.Opt(x, 1) is { } at ? OnnxKernels.Longs(at) : null) : n.Attributes.Ints("axes");
            bool keep = n.Attributes.Int("keepdims", 1) != 0;
            if (axes is null || axes.Length == 0)
            {
                if (n.Attributes.Int("noop_with_empty_axes", 0) != 0) return OnnxKernels.One(a.alias());
                axes = Enumerable.Range(0, a.shape.Length).Select(i => (long)i).ToArray();
            }
            var dims = axes.Select(ax => n.Axis(ax, a.shape.Length)).Distinct().ToArray();
            return OnnxKernels.One(dims.Length == 0 ? a.alias() : f(a, dims, keep));
        };

    private static void Arg(Dictionary<string, OnnxKernel> t, string op, Func<Tensor, long, bool, Tensor> f) =>
        t[op] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long axis = n.Axis(n.Attributes.Int("axis", 0), a.shape.Length);
            bool keep = n.Attributes.Int("keepdims", 1) != 0;
            if (n.Attributes.Int("select_last_index", 0) == 0) return OnnxKernels.One(f(a, axis, keep));
            using var flipped = a.flip(axis);
            using var idx = f(flipped, axis, keep);
            using var mirrored = idx.neg();
            return OnnxKernels.One(mirrored + (a.shape[axis] - 1));
        };
}
