using Compressor.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>ONNX operators of neural layers: MatMul/Gemm/Conv with non-constant (or shared) weights, normalisations,
/// pooling, softmax, dropout, Einsum.</summary>
internal static class NeuralKernels
{
    public static void Register(Dictionary<string, OnnxKernel> t)
    {
        t["MatMul"] = (n, x, _) => OnnxKernels.One(matmul(n.In(x, 0), n.In(x, 1)));
        t["Gemm"] = (n, x, _) =>
        {
            var a = n.In(x, 0); var b = n.In(x, 1);
            using var at = n.Attributes.Int("transA", 0) != 0 ? a.t() : a.alias();
            using var bt = n.Attributes.Int("transB", 0) != 0 ? b.t() : b.alias();
            using var prod = matmul(at, bt);
            using var scaled = prod * n.Attributes.Float("alpha", 1f);
            if (OnnxKernels.Opt(x, 2) is not { } c) return OnnxKernels.One(scaled.alias());
            using var cs = c * n.Attributes.Float("beta", 1f);
            return OnnxKernels.One(scaled + cs);
        };
        t["Conv"] = (n, x, _) =>
        {
            var input = n.In(x, 0); var w = n.In(x, 1); var b = OnnxKernels.Opt(x, 2);
            int spatial = (int)w.shape.Length - 2;
            var kernel = w.shape[2..];
            var strides = n.Attributes.Ints("strides") ?? Ones(spatial);
            var dilations = n.Attributes.Ints("dilations") ?? Ones(spatial);
            var pads = ExplicitPads(n, input.shape[2..], kernel, strides, dilations);
            using var padded = Pad(input, pads, 0);
            long groups = n.Attributes.Int("group", 1);
            return OnnxKernels.One(spatial switch
            {
                1 => nn.functional.conv1d(padded, w, b, strides[0], 0, dilations[0], groups),
                2 => nn.functional.conv2d(padded, w, b, strides, [0, 0], dilations, groups),
                3 => nn.functional.conv3d(padded, w, b, strides, [0, 0, 0], dilations, groups),
                _ => throw n.Error($"Conv with {spatial} spatial dimensions is not supported"),
            });
        };
        t["BatchNormalization"] = (n, x, _) =>
        {
            if (n.Attributes.Int("training_mode", 0) != 0) throw n.Error("BatchNormalization in training mode is not supported");
            if (n.Opset < 9 && n.Attributes.Int("spatial", 1) == 0) throw n.Error("BatchNormalization with spatial=0 is not supported");
            var result = nn.functional.batch_norm(n.In(x, 0), n.In(x, 3), n.In(x, 4), n.In(x, 1), n.In(x, 2), false, 0, n.Attributes.Float("epsilon", 1e-5f));
            return OnlyFirst(n, result);
        };
        t["InstanceNormalization"] = (n, x, _) => OnnxKernels.One(nn.functional.instance_norm(n.In(x, 0), null, null, n.In(x, 1), n.In(x, 2), true, 0, n.Attributes.Float("epsilon", 1e-5f)));
        t["LayerNormalization"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long axis = n.Axis(n.Attributes.Int("axis", -1), a.shape.Length);
            float eps = n.Attributes.Float("epsilon", 1e-5f);
            var normalized = a.shape[(int)axis..];
            using var w = n.In(x, 1).reshape(normalized);
            using var b = OnnxKernels.Opt(x, 2) is { } bias ? bias.reshape(normalized) : null;
            var y = nn.functional.layer_norm(a, normalized, w, b, eps);
            bool stats = n.Outputs.Skip(1).Any(o => o.Length > 0);
            if (!stats) return [y];
            // Mean and InvStdDev over the normalized axes, kept as size-1 dimensions (computed in float32 as ONNX's stash type).
            var dims = Enumerable.Range((int)axis, a.shape.Length - (int)axis).Select(i => (long)i).ToArray();
            using var a32 = a.to_type(ScalarType.Float32);
            var mean = a32.mean(dims, true);
            using var centered = a32 - mean;
            using var sq = centered * centered;
            using var variance = sq.mean(dims, true);
            using var shifted = variance + eps;
            var invStd = shifted.rsqrt();
            return [y, mean, invStd];
        };
        t["MaxPool"] = (n, x, _) => OnlyFirst(n, Pool(n, n.In(x, 0), max: true));
        t["AveragePool"] = (n, x, _) => OnnxKernels.One(Pool(n, n.In(x, 0), max: false));
        t["GlobalAveragePool"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            return OnnxKernels.One(a.mean(Enumerable.Range(2, a.shape.Length - 2).Select(i => (long)i).ToArray(), true));
        };
        t["GlobalMaxPool"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            return OnnxKernels.One(a.amax(Enumerable.Range(2, a.shape.Length - 2).Select(i => (long)i).ToArray(), true));
        };
        t["Softmax"] = (n, x, _) => OnnxKernels.One(SoftmaxLike(n, n.In(x, 0), (v, d) => nn.functional.softmax(v, d)));
        t["LogSoftmax"] = (n, x, _) => OnnxKernels.One(SoftmaxLike(n, n.In(x, 0), (v, d) => nn.functional.log_softmax(v, d)));
        t["Dropout"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            if (OnnxKernels.Opt(x, 2) is { } training && OnnxKernels.Scalar(training) != 0) throw n.Error("Dropout in training mode is not supported");
            return n.Outputs.Count > 1 && n.Outputs[1].Length > 0 ? [a.alias(), ones(a.shape, ScalarType.Bool, a.device)] : [a.alias()];
        };
        t["Einsum"] = (n, x, _) => OnnxKernels.One(einsum(n.Attributes.String("equation", ""), x.Select((v, i) => v ?? throw n.Error($"input {i} is missing")).ToArray()));
    }

    /// <summary>Explicit per-dimension pads in ONNX order (all begins, then all ends) for a Conv or pooling node,
    /// resolving <c>auto_pad</c> against the actual input size.</summary>
    public static long[] ExplicitPads(OnnxNode n, long[] inputSpatial, long[] kernel, long[] strides, long[] dilations)
    {
        int d = kernel.Length;
        string autoPad = n.Attributes.String("auto_pad", "NOTSET");
        switch (autoPad)
        {
            case "NOTSET" or "":
                var pads = n.Attributes.Ints("pads") ?? new long[2 * d];
                return pads.Length == 2 * d ? pads : throw n.Error($"pads has {pads.Length} values for {d} spatial dimensions");
            case "VALID":
                return new long[2 * d];
            case "SAME_UPPER" or "SAME_LOWER":
                var result = new long[2 * d];
                for (int i = 0; i < d; i++)
                {
                    long outSize = (inputSpatial[i] + strides[i] - 1) / strides[i];
                    long total = Math.Max(0, (outSize - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inputSpatial[i]);
                    long small = total / 2, large = total - small;
                    (result[i], result[i + d]) = autoPad == "SAME_UPPER" ? (small, large) : (large, small);
                }
                return result;
            default:
                throw n.Error($"auto_pad '{autoPad}' is not supported");
        }
    }

    /// <summary><paramref name="input"/> padded by ONNX-ordered <paramref name="pads"/> over its trailing spatial
    /// dimensions with <paramref name="value"/> (an alias when there is nothing to pad).</summary>
    public static Tensor Pad(Tensor input, long[] pads, double value)
    {
        if (pads.All(p => p == 0)) return input.alias();
        int d = pads.Length / 2;
        var torchPads = new long[2 * d];
        for (int i = 0; i < d; i++)
        {
            torchPads[2 * i] = pads[d - 1 - i];
            torchPads[2 * i + 1] = pads[2 * d - 1 - i];
        }
        return nn.functional.pad(input, torchPads, PaddingModes.Constant, value);
    }

    private static long[] Ones(int n) => Enumerable.Repeat(1L, n).ToArray();

    private static Tensor[] OnlyFirst(OnnxNode n, Tensor result)
    {
        for (int i = 1; i < n.Outputs.Count; i++)
            if (n.Outputs[i].Length > 0)
            {
                result.Dispose();
                throw n.Error($"{n.OpType} output {i} ('{n.Outputs[i]}') is not supported");
            }
        return [result];
    }

    private static Tensor SoftmaxLike(OnnxNode n, Tensor a, Func<Tensor, long, Tensor> f)
    {
        long r = a.shape.Length;
        if (n.Opset >= 13) return f(a, n.Axis(n.Attributes.Int("axis", -1), r));
        long axis = n.Axis(n.Attributes.Int("axis", 1), r);
        long outer = a.shape.Take((int)axis).Aggregate(1L, (p, q) => p * q);
        using var flat = a.reshape(outer, -1);
        using var y = f(flat, 1);
        return y.reshape(a.shape);
    }

    private static Tensor Pool(OnnxNode n, Tensor input, bool max)
    {
        var kernel = n.Attributes.Ints("kernel_shape") ?? throw n.Error("pooling without kernel_shape");
        int d = kernel.Length;
        if (d is < 1 or > 2) throw n.Error($"{n.OpType} over {d} spatial dimensions is not supported");
        if (n.Attributes.Int("storage_order", 0) != 0) throw n.Error("MaxPool storage_order=1 is not supported");
        var strides = n.Attributes.Ints("strides") ?? Ones(d);
        var dilations = n.Attributes.Ints("dilations") ?? Ones(d);
        bool ceil = n.Attributes.Int("ceil_mode", 0) != 0;
        var pads = ExplicitPads(n, input.shape[2..], kernel, strides, dilations);
        using var x2 = d == 1 ? input.unsqueeze(-2) : input.alias();
        long[] k2 = d == 1 ? [1, kernel[0]] : kernel, s2 = d == 1 ? [1, strides[0]] : strides, dil2 = d == 1 ? [1, dilations[0]] : dilations;
        long[] p2 = d == 1 ? [0, pads[0], 0, pads[1]] : pads;
        bool symmetric = p2[0] == p2[2] && p2[1] == p2[3] && p2[0] <= k2[0] / 2 && p2[1] <= k2[1] / 2;
        Tensor y;
        if (max)
        {
            if (symmetric) y = nn.functional.max_pool2d(x2, k2, s2, [p2[0], p2[1]], dil2, ceil);
            else
            {
                using var padded = Pad(x2, p2, double.NegativeInfinity);
                y = nn.functional.max_pool2d(padded, k2, s2, [0, 0], dil2, ceil);
            }
        }
        else
        {
            if (dil2.Any(v => v != 1)) throw n.Error("AveragePool with dilations is not supported");
            bool includePad = n.Attributes.Int("count_include_pad", 0) != 0;
            if (symmetric) y = nn.functional.avg_pool2d(x2, k2, s2, [p2[0], p2[1]], ceil, includePad);
            else
            {
                using var padded = Pad(x2, p2, 0);
                using var sums = nn.functional.avg_pool2d(padded, k2, s2, [0, 0], ceil, true);
                if (includePad) y = sums.alias();
                else
                {
                    using var ones1 = ones([1, 1, x2.shape[2], x2.shape[3]], x2.dtype, x2.device);
                    using var mask = Pad(ones1, p2, 0);
                    using var share = nn.functional.avg_pool2d(mask, k2, s2, [0, 0], ceil, true);
                    y = sums / share;
                }
            }
        }
        if (d == 2) return y;
        using (y) return y.squeeze(-2);
    }
}
