using Compressor.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Element-wise ONNX operators: arithmetic, comparisons, logic, activations, casts.</summary>
internal static class ElementwiseKernels
{
    public static void Register(Dictionary<string, OnnxKernel> t)
    {
        Binary(t, "Add", (a, b) => a + b);
        Binary(t, "Sub", (a, b) => a - b);
        Binary(t, "Mul", (a, b) => a * b);
        Binary(t, "Div", (a, b) =>
        {
            if (a.dtype.IsFloatingPoint()) return a / b;
            using var q = torch.div(a, b, RoundingMode.trunc);
            return q.to_type(a.dtype, copy: true);
        });
        Binary(t, "Pow", (a, b) =>
        {
            using var p = a.pow(b);
            return p.dtype == a.dtype ? p.alias() : p.to_type(a.dtype);
        });
        Binary(t, "Equal", (a, b) => a.eq(b));
        Binary(t, "Less", (a, b) => a.lt(b));
        Binary(t, "LessOrEqual", (a, b) => a.le(b));
        Binary(t, "Greater", (a, b) => a.gt(b));
        Binary(t, "GreaterOrEqual", (a, b) => a.ge(b));
        Binary(t, "And", (a, b) => a.logical_and(b));
        Binary(t, "Or", (a, b) => a.logical_or(b));
        Binary(t, "Xor", (a, b) => a.logical_xor(b));
        Binary(t, "BitwiseAnd", (a, b) => a.bitwise_and(b));
        Binary(t, "BitwiseOr", (a, b) => a.bitwise_or(b));
        t["Mod"] = (n, x, _) =>
        {
            var a = n.In(x, 0); var b = n.In(x, 1);
            return OnnxKernels.One(n.Attributes.Int("fmod", 0) != 0 ? a.fmod(b) : a.remainder(b));
        };
        Variadic(t, "Sum", (a, b) => a + b, count: false);
        Variadic(t, "Max", (a, b) => a.maximum(b), count: false);
        Variadic(t, "Min", (a, b) => a.minimum(b), count: false);
        Variadic(t, "Mean", (a, b) => a + b, count: true);

        Unary(t, "Identity", x => x.alias());
        Unary(t, "Neg", x => x.neg());
        Unary(t, "Abs", x => x.abs());
        Unary(t, "Sqrt", x => x.sqrt());
        Unary(t, "Exp", x => x.exp());
        Unary(t, "Log", x => x.log());
        Unary(t, "Reciprocal", x => x.reciprocal());
        Unary(t, "Floor", x => x.floor());
        Unary(t, "Ceil", x => x.ceil());
        Unary(t, "Round", x => x.round());
        Unary(t, "Sign", x => x.sign());
        Unary(t, "Sin", x => x.sin());
        Unary(t, "Cos", x => x.cos());
        Unary(t, "Tan", x => x.tan());
        Unary(t, "Atan", x => x.atan());
        Unary(t, "Erf", x => x.erf());
        Unary(t, "Not", x => x.logical_not());
        Unary(t, "IsNaN", x => x.isnan());
        Unary(t, "Relu", x => nn.functional.relu(x));
        Unary(t, "Sigmoid", x => x.sigmoid());
        Unary(t, "Tanh", x => x.tanh());
        Unary(t, "Softsign", x => { using var d = x.abs().add_(1); return x / d; });
        Unary(t, "Softplus", x => nn.functional.softplus(x));
        t["Selu"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            double alpha = n.Attributes.Float("alpha", 1.67326319217681884765625f), gamma = n.Attributes.Float("gamma", 1.05070102214813232421875f);
            using var pos = a.gt(0);
            using var e = a.exp();
            using var negative = (e - 1) * alpha;
            using var selected = where(pos, a, negative);
            return OnnxKernels.One(selected * gamma);
        };
        Unary(t, "Mish", x => nn.functional.mish(x));
        t["IsInf"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            bool pos = n.Attributes.Int("detect_positive", 1) != 0, neg = n.Attributes.Int("detect_negative", 1) != 0;
            using var inf = a.isinf();
            if (pos && neg) return OnnxKernels.One(inf.alias());
            using var sign = pos ? a.gt(0) : a.lt(0);
            return OnnxKernels.One(pos || neg ? inf.logical_and(sign) : zeros_like(inf));
        };
        t["LeakyRelu"] = (n, x, _) => OnnxKernels.One(nn.functional.leaky_relu(n.In(x, 0), n.Attributes.Float("alpha", 0.01f)));
        t["Elu"] = (n, x, _) => OnnxKernels.One(nn.functional.elu(n.In(x, 0), n.Attributes.Float("alpha", 1f)));
        t["HardSigmoid"] = (n, x, _) =>
        {
            using var lin = n.In(x, 0) * n.Attributes.Float("alpha", 0.2f);
            using var shifted = lin + n.Attributes.Float("beta", 0.5f);
            return OnnxKernels.One(shifted.clamp(0, 1));
        };
        Unary(t, "HardSwish", x =>
        {
            using var lin = x / 6.0;
            using var shifted = lin + 0.5;
            using var gate = shifted.clamp(0, 1);
            return x * gate;
        });
        t["Gelu"] = (n, x, _) => OnnxKernels.One(n.Attributes.String("approximate", "none") == "tanh"
            ? nn.functional.gelu(n.In(x, 0), TorchSharp.Modules.GELU.Approximate.tanh)
            : nn.functional.gelu(n.In(x, 0)));
        t["PRelu"] = (n, x, _) =>
        {
            var a = n.In(x, 0); var slope = n.In(x, 1);
            using var neg = a.lt(0);
            using var scaled = a * slope;
            return OnnxKernels.One(where(neg, scaled, a));
        };
        t["Clip"] = (n, x, _) =>
        {
            var a = n.In(x, 0);
            Tensor? lo = n.Opset >= 11 ? OnnxKernels.Opt(x, 1) : null, hi = n.Opset >= 11 ? OnnxKernels.Opt(x, 2) : null;
            if (n.Opset < 11)
            {
                var r0 = a.clamp(n.Attributes.Float("min", float.MinValue), n.Attributes.Float("max", float.MaxValue));
                return OnnxKernels.One(r0);
            }
            var r = a.alias();
            if (lo is not null) { var m = r.maximum(lo); r.Dispose(); r = m; }
            if (hi is not null) { var m = r.minimum(hi); r.Dispose(); r = m; }
            return OnnxKernels.One(r);
        };
        t["Where"] = (n, x, _) => OnnxKernels.One(where(n.In(x, 0).to_type(ScalarType.Bool), n.In(x, 1), n.In(x, 2)));
        t["Cast"] = (n, x, _) =>
        {
            int to = (int)n.Attributes.Int("to", 0);
            var type = OnnxTensorConversion.ScalarTypeOf(to) ?? throw n.Error($"Cast to {OnnxTensorConversion.NameOf(to)} is not supported");
            return OnnxKernels.One(n.In(x, 0).to_type(type, copy: true));
        };
        t["CastLike"] = (n, x, _) => OnnxKernels.One(n.In(x, 0).to_type(n.In(x, 1).dtype, copy: true));
    }

    private static void Binary(Dictionary<string, OnnxKernel> t, string op, Func<Tensor, Tensor, Tensor> f) =>
        t[op] = (n, x, _) => OnnxKernels.One(f(n.In(x, 0), n.In(x, 1)));

    private static void Unary(Dictionary<string, OnnxKernel> t, string op, Func<Tensor, Tensor> f) =>
        t[op] = (n, x, _) => OnnxKernels.One(f(n.In(x, 0)));

    private static void Variadic(Dictionary<string, OnnxKernel> t, string op, Func<Tensor, Tensor, Tensor> f, bool count) =>
        t[op] = (n, x, _) =>
        {
            var acc = n.In(x, 0).alias();
            for (int i = 1; i < x.Length; i++)
            {
                var next = f(acc, n.In(x, i));
                acc.Dispose();
                acc = next;
            }
            if (!count) return OnnxKernels.One(acc);
            using (acc) return OnnxKernels.One(acc / (double)x.Length);
        };
}
