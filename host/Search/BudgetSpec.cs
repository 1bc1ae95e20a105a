using System.Globalization;
using Compressor.Sdk;

namespace Compressor.Host.Search;

/// <summary>What <c>compress search --budget</c> constrains: the model's bytes, the mean storage bits per searched
/// weight, or the latency relative to the FP32 model on ONNX Runtime.</summary>
public enum BudgetKind
{
    /// <summary><c>size=20MB</c>: the ONNX model's bytes (searched layers at their storage bits, everything else as it is).</summary>
    Size,
    /// <summary><c>bits=4.5</c>: storage bits per weight of the searched layers (codes, scales, zero points, factors; biases left out).</summary>
    Bits,
    /// <summary><c>latency=0.5x</c>: ONNX Runtime latency of one batch relative to the FP32 model.</summary>
    Latency,
}

/// <summary>A parsed <c>--budget</c>: a kind and a limit, or no limit (<c>=min</c>: the smallest or fastest model that
/// keeps the metric).</summary>
/// <param name="Kind">What is budgeted.</param>
/// <param name="Limit">Bytes, bits per weight, or the latency ratio; null for <c>min</c>.</param>
public sealed record BudgetSpec(BudgetKind Kind, double? Limit)
{
    /// <summary>The forms <c>--budget</c> accepts, for help and errors.</summary>
    public const string Forms = "size=20MB, size=min, bits=4.5, bits=min, latency=0.5x, latency=min";

    /// <summary>Whether the search minimises the cost instead of meeting a limit.</summary>
    public bool IsMin => Limit is null;

    /// <summary>Parses <paramref name="text"/>.</summary>
    /// <exception cref="CompressException">Not one of <see cref="Forms"/> (InvalidOptions).</exception>
    public static BudgetSpec Parse(string text)
    {
        CompressException Bad(string why) => new(ErrorKind.InvalidOptions, $"--budget '{text}': {why} (forms: {Forms})");
        int eq = text.IndexOf('=');
        if (eq <= 0) throw Bad("expected KIND=VALUE");
        string kind = text[..eq].Trim().ToLowerInvariant(), value = text[(eq + 1)..].Trim();
        var k = kind switch
        {
            "size" => BudgetKind.Size,
            "bits" => BudgetKind.Bits,
            "latency" => BudgetKind.Latency,
            _ => throw Bad($"unknown kind '{kind}'"),
        };
        if (value.Equals("min", StringComparison.OrdinalIgnoreCase)) return new BudgetSpec(k, null);
        switch (k)
        {
            case BudgetKind.Size:
                return new BudgetSpec(k, Compressor.Sdk.Plugins.MemoryBudget.Parse(value, "--budget size"));
            case BudgetKind.Bits:
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double bits) || !(bits >= 1 && bits <= 32))
                    throw Bad("bits per weight must be a number in 1..32 or min");
                return new BudgetSpec(k, bits);
            default:
                string ratio = value.EndsWith('x') || value.EndsWith('X') ? value[..^1] : value;
                if (!double.TryParse(ratio, NumberStyles.Float, CultureInfo.InvariantCulture, out double r) || !(r > 0 && r <= 10))
                    throw Bad("the latency must be a ratio to FP32 in (0, 10], e.g. 0.5x, or min");
                return new BudgetSpec(k, r);
        }
    }

    /// <summary>The budget as written back (e.g. <c>bits=4.5</c>, <c>size=20000000B</c>).</summary>
    public override string ToString() => Kind.ToString().ToLowerInvariant() + "=" + (Limit is not { } l ? "min" : Kind switch
    {
        BudgetKind.Size => l.ToString("0", CultureInfo.InvariantCulture) + "B",
        BudgetKind.Latency => l.ToString("0.###", CultureInfo.InvariantCulture) + "x",
        _ => l.ToString("0.###", CultureInfo.InvariantCulture),
    });
}
