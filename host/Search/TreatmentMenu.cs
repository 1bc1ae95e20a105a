using System.Globalization;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Search;

/// <summary>The candidate treatments of a search, built from <c>--methods</c>, <c>--bits</c> and <c>--groups</c>:
/// <list type="bullet">
/// <item><c>rtn</c>: asymmetric round-to-nearest at each bit width × group size, plus 8 bits per output channel;</item>
/// <item><c>gptq</c>: GPTQ (asymmetric, the plugin's other defaults) at each bit width ≤ 4 × group size, each also with
/// act-order (<see cref="GptqVariants"/>; above 4 bits round-to-nearest is already within noise
/// of it, and each GPTQ treatment costs one calibrated run over the searched layers);</item>
/// <item><c>jlcm</c>: jointly learned codebooks at 2 and 3 bits per weight (the plugin's defaults otherwise);</item>
/// <item><c>sparsity</c>: low-rank factors keeping 25 % and 50 % of the weights (SVD of the dense weight, no training;
/// the plugin applies it to feed-forward linears only, elsewhere the treatment does not apply);</item>
/// <item><c>statsq</c> is quantization-aware training of the whole model: it is not a per-layer treatment and is refused.</item>
/// </list>
/// Every layer may also stay float32.</summary>
public static class TreatmentMenu
{
    /// <summary>The methods <c>--methods</c> accepts.</summary>
    public static readonly IReadOnlyList<string> Methods = ["rtn", "gptq", "jlcm", "sparsity"];

    /// <summary>The gptq variants offered at each bit width ≤ 4 × group size, by the suffix of their treatment id: GPTQ
    /// as published (no suffix) and with act-order (<c>-act</c>: columns in order of decreasing Hessian diagonal, with
    /// static groups, so the exported groups stay contiguous). AWQ (<c>--awq</c>) is not offered: its scaling divides the
    /// producer of a layer's input (on BERT, v_proj for the attention output projection) by the scales it multiplies
    /// into the layer, so one layer's treated weight is correct only together with another layer's — a per-layer trial
    /// or allocation cannot represent it, and a recipe step's fold would depend on which steps ran before it.</summary>
    public static readonly IReadOnlyList<(string Suffix, IReadOnlyDictionary<string, bool> Options)> GptqVariants =
    [
        ("", new Dictionary<string, bool>()),
        ("-act", new Dictionary<string, bool> { ["actOrder"] = true }),
    ];

    /// <summary>The default bit widths.</summary>
    public static readonly IReadOnlyList<int> DefaultBits = [2, 3, 4, 5, 6, 8];

    /// <summary>The default group sizes.</summary>
    public static readonly IReadOnlyList<int> DefaultGroups = [32, 128];

    /// <summary>The treatments of a <c>--budget latency=…</c> search (<c>--target speed</c>): those ONNX Runtime runs on its
    /// integer kernels — rtn W8A8 with static (calibrated) and with dynamic per-token input quantization (with
    /// <c>rtn</c>), low-rank factors at 25 % and 50 % of the weights (with <c>sparsity</c>; exported as int8 products) —
    /// and float32. Weight-only codes (rtn/gptq below 8 bits, codebooks) save bytes, not time, and are not searched
    /// for speed.</summary>
    /// <exception cref="CompressException">gptq or jlcm (InvalidOptions), an unknown method, or a plugin not installed.</exception>
    public static IReadOnlyList<Treatment> BuildForSpeed(IReadOnlyList<string> methods, PluginCatalog catalog)
    {
        foreach (var m in methods)
        {
            if (m is "gptq" or "jlcm")
                throw new CompressException(ErrorKind.InvalidOptions, $"--methods {m} with --budget latency: {m} stores weight-only codes that ONNX Runtime runs no faster than float32; search rtn (W8A8) and sparsity (low-rank) for speed");
            if (m == "statsq" || !Methods.Contains(m))
                return Build(methods, DefaultBits, DefaultGroups, catalog);   // the same errors as a size search
            catalog.Require(m);
        }
        var list = new List<Treatment>();
        if (methods.Contains("sparsity"))
            foreach (double f in new[] { 0.25, 0.5 })
                list.Add(new Treatment($"lowrank-{f.ToString("0.##", CultureInfo.InvariantCulture)}", "sparsity",
                    new JObject { ["structure"] = "lowrank", ["fraction"] = f, ["firstLayerDense"] = false }, 0));
        if (methods.Contains("rtn"))
            foreach (string scheme in new[] { "static", "dynamic" })
                list.Add(new Treatment($"rtn-w8a8-{scheme}", "rtn", new JObject
                {
                    ["weightBits"] = 8, ["groupSize"] = 0, ["scheme"] = "symmetric", ["activationBits"] = 8, ["activationScheme"] = scheme,
                }, 3, TrialScope.Joint));
        list.Add(Treatment.Fp32);
        return list;
    }

    /// <summary>The treatments for <paramref name="methods"/>, each checked against the installed plugins.</summary>
    /// <exception cref="CompressException">An unknown method (InvalidOptions) or a plugin that is not installed (PluginUnavailable).</exception>
    public static IReadOnlyList<Treatment> Build(IReadOnlyList<string> methods, IReadOnlyList<int> bits, IReadOnlyList<int> groups, PluginCatalog catalog)
    {
        foreach (var m in methods)
        {
            if (m == "statsq")
                throw new CompressException(ErrorKind.InvalidOptions, "--methods statsq: StatsQ is quantization-aware training of the whole model, not a per-layer treatment; search rtn, gptq, jlcm, sparsity and run statsq on the result");
            if (!Methods.Contains(m))
                throw new CompressException(ErrorKind.InvalidOptions, $"--methods: unknown method '{m}' (known: {string.Join(", ", Methods)})");
            catalog.Require(m);
        }
        foreach (var b in bits)
            if (b is < 2 or > 8) throw new CompressException(ErrorKind.InvalidOptions, $"--bits {b}: bit widths are 2..8");
        foreach (var g in groups)
            if (g < 0 || (g > 0 && g < 8)) throw new CompressException(ErrorKind.InvalidOptions, $"--groups {g}: group sizes are 0 (per channel) or at least 8");
        var list = new List<Treatment>();
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        if (methods.Contains("sparsity"))
            foreach (double f in new[] { 0.25, 0.5 })
                list.Add(new Treatment($"lowrank-{f.ToString("0.##", CultureInfo.InvariantCulture)}", "sparsity",
                    new JObject { ["structure"] = "lowrank", ["fraction"] = f, ["firstLayerDense"] = false }, 0));
        if (methods.Contains("gptq"))
            foreach (int b in bits.Where(b => b <= 4))
                foreach (int g in groups)
                    foreach (var (suffix, extra) in GptqVariants)
                    {
                        var o = new JObject { ["weightBits"] = b, ["groupSize"] = g, ["scheme"] = "asymmetric" };
                        foreach (var p in extra) o[p.Key] = p.Value;
                        list.Add(new Treatment($"gptq-w{I(b)}-g{I(g)}{suffix}", "gptq", o, 1, TrialScope.Joint));
                    }
        if (methods.Contains("jlcm"))
            foreach (int b in new[] { 2, 3 })
                list.Add(new Treatment($"jlcm-w{I(b)}", "jlcm", new JObject { ["weightBits"] = b }, 2));
        if (methods.Contains("rtn"))
        {
            foreach (int b in bits)
                foreach (int g in groups)
                    list.Add(new Treatment($"rtn-w{I(b)}-g{I(g)}", "rtn", new JObject { ["weightBits"] = b, ["groupSize"] = g, ["scheme"] = "asymmetric" }, 3, TrialScope.Layer));
            if (!(bits.Contains(8) && groups.Contains(0)))
                list.Add(new Treatment("rtn-w8-g0", "rtn", new JObject { ["weightBits"] = 8, ["groupSize"] = 0, ["scheme"] = "asymmetric" }, 3, TrialScope.Layer));
        }
        list.Add(Treatment.Fp32);
        return list;
    }
}
