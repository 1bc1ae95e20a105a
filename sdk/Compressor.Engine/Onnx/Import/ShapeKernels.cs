using Compressor.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>ONNX operators that compute or change shapes, select, and make constants. Shape values are int64
/// tensors computed at every run, so graphs with dynamic batch or sequence sizes work.</summary>
internal static class ShapeKernels
{
    public static void Register(Dictionary<string, OnnxKernel> t)
    {
        t["Shape"] = (n, x, c) =>
        {
            var shape = n.In(x, 0).shape;
            long r = shape.Length;
            long start = n.Attributes.Int("start", 0), end = n.Attributes.Int("end", r);
            start = Math.Clamp(start < 0 ? start + r : start, 0, r);
            end = Math.Clamp(end < 0 ? end + r : end, 0, r);
            var values = shape[(int)start..(int)Math.Max(start, end)];
            return OnnxKernels.One(tensor(values, ScalarType.Int64, c.Device));
        };
        t["Size"] = (n, x, c) => OnnxKernels.One(tensor(n.In(x, 0).numel(), ScalarType.Int64, c.Device));
        t["Reshape"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            var shape = OnnxKernels.Longs(n.In(x, 1));
            bool allowZero = n.Attributes.Int("allowzero", 0) != 0;
            for (int i = 0; i < shape.Length && !allowZero; i++)
                if (shape[i] == 0)
                    shape[i] = i < a.shape.Length ? a.shape[i] : throw n.Error("Reshape copies a dimension the input lacks");
            return OnnxKernels.One(a.reshape(shape));
        };
        t["Flatten"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long r = a.shape.Length, axis = n.Attributes.Int("axis", 1);
            if (axis < 0) axis += r;
            long outer = a.shape.Take((int)axis).Aggregate(1L, (p, d) => p * d);
            long inner = a.shape.Skip((int)axis).Aggregate(1L, (p, d) => p * d);
            return OnnxKernels.One(a.reshape(outer, inner));
        };
        t["Squeeze"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long[]? axes = n.Opset >= 13 ? (OnnxKernels.Opt(x, 1) is { } at ? OnnxKernels.Longs(at) : null) : n.Attributes.Ints("axes");
            if (axes is null || axes.Length == 0)
                return OnnxKernels.One(a.reshape(a.shape.Where(d => d != 1).ToArray()));
            var drop = axes.Select(ax => n.Axis(ax, a.shape.Length)).ToHashSet();
            return OnnxKernels.One(a.reshape(a.shape.Where((_, i) => !drop.Contains(i)).ToArray()));
        };
        t["Unsqueeze"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long[] axes = n.Opset >= 13 ? OnnxKernels.Longs(n.In(x, 1)) : n.Attributes.Ints("axes") ?? throw n.Error("Unsqueeze without axes");
            long outRank = a.shape.Length + axes.Length;
            var insert = axes.Select(ax => n.Axis(ax, outRank)).ToHashSet();
            var shape = new long[outRank];
            int src = 0;
            for (int i = 0; i < outRank; i++) shape[i] = insert.Contains(i) ? 1 : a.shape[src++];
            return OnnxKernels.One(a.reshape(shape));
        };
        t["Transpose"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            var perm = n.Attributes.Ints("perm") ?? Enumerable.Range(0, a.shape.Length).Reverse().Select(i => (long)i).ToArray();
            return OnnxKernels.One(a.permute(perm));
        };
        t["Concat"] = (n, x, _) =>
        {
            var parts = x.Select((v, i) => v ?? throw n.Error($"input {i} is missing")).ToArray();
            long axis = n.Axis(n.Attributes.Int("axis", 0), parts[0].shape.Length);
            return OnnxKernels.One(cat(parts, axis));
        };
        t["Split"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long axis = n.Axis(n.Attributes.Int("axis", 0), a.shape.Length);
            long[]? split = n.Opset >= 13 ? (OnnxKernels.Opt(x, 1) is { } s ? OnnxKernels.Longs(s) : null) : n.Attributes.Ints("split");
            int outputs = n.Outputs.Count;
            if (split is null || split.Length == 0)
            {
                long parts = n.Attributes.Int("num_outputs", outputs), dim = a.shape[axis];
                long each = (dim + parts - 1) / parts;
                split = Enumerable.Range(0, (int)parts).Select(i => Math.Max(0, Math.Min(each, dim - i * each))).ToArray();
            }
            return a.split(split, axis);
        };
        t["Slice"] = Slice;
        t["Gather"] = (n, x, _) =>
        {
            var data = n.In(x, 0); var idx = n.In(x, 1);
            long axis = n.Axis(n.Attributes.Int("axis", 0), data.shape.Length);
            using var fixedIdx = NormalizeIndices(idx, data.shape[axis]);
            using var flat = fixedIdx.reshape(-1);
            using var picked = data.index_select(axis, flat);
            var shape = data.shape.Take((int)axis).Concat(idx.shape).Concat(data.shape.Skip((int)axis + 1)).ToArray();
            return OnnxKernels.One(picked.reshape(shape));
        };
        t["GatherElements"] = (n, x, _) =>
        {
            var data = n.In(x, 0);
            long axis = n.Axis(n.Attributes.Int("axis", 0), data.shape.Length);
            using var idx = NormalizeIndices(n.In(x, 1), data.shape[axis]);
            return OnnxKernels.One(data.gather(axis, idx));
        };
        t["Expand"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            var shape = OnnxKernels.Longs(n.In(x, 1));
            int rank = Math.Max(a.shape.Length, shape.Length);
            var result = new long[rank];
            for (int i = 0; i < rank; i++)
            {
                long da = i - (rank - a.shape.Length) >= 0 ? a.shape[i - (rank - a.shape.Length)] : 1;
                long ds = i - (rank - shape.Length) >= 0 ? shape[i - (rank - shape.Length)] : 1;
                result[i] = da == 1 ? ds : ds == 1 || ds == da ? da : throw n.Error($"Expand cannot broadcast [{string.Join(", ", a.shape)}] to [{string.Join(", ", shape)}]");
            }
            return OnnxKernels.One(a.expand(result).contiguous());
        };
        t["Tile"] = (n, x, _) => OnnxKernels.One(n.In(x, 0).repeat(OnnxKernels.Longs(n.In(x, 1))));
        t["ConstantOfShape"] = (n, x, c) =>
        {
            var shape = OnnxKernels.Longs(n.In(x, 0));
            if (n.Attributes.TensorValue("value") is not { } v) return OnnxKernels.One(zeros(shape, ScalarType.Float32, c.Device));
            using var value = OnnxTensorConversion.ToTensor(v, $"ONNX node {n.Label} value");
            using var onDevice = value.to(c.Device);
            using var scalar = onDevice.reshape(Array.Empty<long>());
            return OnnxKernels.One(scalar.expand(shape).contiguous());
        };
        t["Constant"] = (n, _, c) =>
        {
            using var v = ConstantValue(n.Attributes, $"ONNX node {n.Label}");
            return OnnxKernels.One(v.to(c.Device, copy: true));
        };
        t["Range"] = (n, x, c) =>
        {
            var start = n.In(x, 0);
            var type = start.dtype;
            if (type.IsFloatingPoint())
                return OnnxKernels.One(arange(OnnxKernels.Scalar(start), OnnxKernels.Scalar(n.In(x, 1)), OnnxKernels.Scalar(n.In(x, 2)), type, c.Device));
            return OnnxKernels.One(arange(OnnxKernels.Longs(start)[0], OnnxKernels.Longs(n.In(x, 1))[0], OnnxKernels.Longs(n.In(x, 2))[0], type, c.Device));
        };
        t["Pad"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            long r = a.shape.Length;
            long[] pads = n.Opset >= 11 ? OnnxKernels.Longs(n.In(x, 1)) : n.Attributes.Ints("pads") ?? throw n.Error("Pad without pads");
            double value = n.Opset >= 11 ? (OnnxKernels.Opt(x, 2) is { } v && v.numel() > 0 ? OnnxKernels.Scalar(v) : 0) : n.Attributes.Float("value", 0);
            long[] axes = n.Opset >= 18 && OnnxKernels.Opt(x, 3) is { } ax
                ? OnnxKernels.Longs(ax).Select(q => n.Axis(q, r)).ToArray()
                : Enumerable.Range(0, (int)r).Select(i => (long)i).ToArray();
            if (pads.Length != 2 * axes.Length) throw n.Error($"Pad has {pads.Length} pads for {axes.Length} axes");
            var full = new long[2 * r];
            for (int i = 0; i < axes.Length; i++)
            {
                long d = axes[i];
                full[2 * (r - 1 - d)] = pads[i];
                full[2 * (r - 1 - d) + 1] = pads[i + axes.Length];
            }
            var mode = n.Attributes.String("mode", "constant") switch
            {
                "constant" => PaddingModes.Constant,
                "reflect" => PaddingModes.Reflect,
                "edge" => PaddingModes.Replicate,
                var m => throw n.Error($"Pad mode '{m}' is not supported"),
            };
            return OnnxKernels.One(nn.functional.pad(a, TrimPads(full), mode, value));
        };
        t["NonZero"] = (n, x, _) =>
        {
            using var nz = nonzero(n.In(x, 0));
            return OnnxKernels.One(nz.t().contiguous());
        };
    }

    /// <summary>The value of a Constant node's attribute (<c>value</c>, <c>value_float(s)</c>, <c>value_int(s)</c>), on the
    /// CPU (the run's kernel moves it to the graph's device).</summary>
    public static Tensor ConstantValue(OnnxAttributes a, string what)
    {
        if (a.TensorValue("value") is { } v) return OnnxTensorConversion.ToTensor(v, what);
        if (a.Has("value_float")) return tensor(a.Float("value_float", 0), device: CPU);
        if (a.Has("value_int")) return tensor(a.Int("value_int", 0), device: CPU);
        if (a.Floats("value_floats") is { } fs) return tensor(fs, device: CPU);
        if (a.Ints("value_ints") is { } ls) return tensor(ls, device: CPU);
        throw a.Unsupported("a Constant without a tensor, float or int value");
    }

    /// <summary>Indices with negative entries wrapped around a dimension of size <paramref name="dim"/>, as int64.</summary>
    public static Tensor NormalizeIndices(Tensor idx, long dim)
    {
        using var l = idx.to_type(ScalarType.Int64);
        using var neg = l.lt(0);
        using var wrapped = l + dim;
        return where(neg, wrapped, l);
    }

    /// <summary>Drops leading zero pairs of a torch pad list (last dimension first) so that only padded dimensions
    /// are named (reflect/replicate modes accept only the trailing dimensions).</summary>
    private static long[] TrimPads(long[] full)
    {
        int keep = full.Length;
        while (keep >= 2 && full[keep - 1] == 0 && full[keep - 2] == 0) keep -= 2;
        return keep == 0 ? [0, 0] : full[..keep];
    }

    private static Tensor[] Slice(OnnxNode n, Tensor?[] x, OnnxRunContext c)
    {
        var a = n.In(x, 0);
        long r = a.shape.Length;
        long[] starts, ends, axes, steps;
        if (n.Opset < 10)
        {
            starts = n.Attributes.Ints("starts") ?? throw n.Error("Slice without starts");
            ends = n.Attributes.Ints("ends") ?? throw n.Error("Slice without ends");
            axes = n.Attributes.Ints("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = OnnxKernels.Longs(n.In(x, 1));
            ends = OnnxKernels.Longs(n.In(x, 2));
            axes = OnnxKernels.Opt(x, 3) is { } ax ? OnnxKernels.Longs(ax) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = OnnxKernels.Opt(x, 4) is { } st ? OnnxKernels.Longs(st) : Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        var result = a.alias();
        for (int i = 0; i < starts.Length; i++)
        {
            long axis = n.Axis(axes[i], r), dim = a.shape[axis], step = steps[i];
            if (step == 0) throw n.Error("Slice step 0");
            long start = starts[i] < 0 ? starts[i] + dim : starts[i], end = ends[i] < 0 ? ends[i] + dim : ends[i];
            Tensor next;
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                next = end <= start ? result.narrow(axis, start, 0) : result.slice(axis, start, end, step);
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                using var idx = start > end ? arange(start, end, step, ScalarType.Int64, c.Device) : empty(0, ScalarType.Int64, device: c.Device);
                next = result.index_select(axis, idx);
            }
            result.Dispose();
            result = next;
        }
        return OnnxKernels.One(result);
    }
}
