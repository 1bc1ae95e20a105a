using System.Globalization;
using static TorchSharp.torch;

namespace Compressor.Sdk.Plugins;

/// <summary>The memory limit of a run (<c>--max-memory</c>) and what is already resident under it (the model and the
/// in-memory data, estimated by the host). Layer-wise methods ask it whether a layer's working set fits before
/// allocating it, so that a run that cannot fit stops early with a one-line <see cref="ErrorKind.MemoryLimit"/> error
/// instead of being killed by the system for running out of memory. The estimate counts tensor bytes only (not
/// the runtime's own overhead), so leave headroom under the machine's real memory.</summary>
public sealed class MemoryBudget
{
    /// <summary>Creates a budget of <paramref name="limitBytes"/> (null: no limit) of which
    /// <paramref name="residentBytes"/> are already used.</summary>
    public MemoryBudget(long? limitBytes, long residentBytes)
    {
        if (limitBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(limitBytes), "the limit must be positive");
        ArgumentOutOfRangeException.ThrowIfNegative(residentBytes);
        LimitBytes = limitBytes;
        ResidentBytes = residentBytes;
    }

    /// <summary>No limit.</summary>
    public static MemoryBudget Unlimited { get; } = new(null, 0);

    /// <summary>The limit in bytes (null: none).</summary>
    public long? LimitBytes { get; }

    /// <summary>Bytes already resident (model and in-memory data).</summary>
    public long ResidentBytes { get; }

    /// <summary>Bytes left for working sets (null: unlimited; never negative).</summary>
    public long? AvailableBytes => LimitBytes is { } l ? Math.Max(0, l - ResidentBytes) : null;

    /// <summary>Whether <paramref name="workingSetBytes"/> more bytes fit.</summary>
    public bool Fits(long workingSetBytes) => AvailableBytes is not { } a || workingSetBytes <= a;

    /// <summary>Throws unless <paramref name="workingSetBytes"/> more bytes fit; <paramref name="what"/> names the work
    /// in the message (e.g. <c>rtn: layer 'blocks.0.fc1'</c>).</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.MemoryLimit"/>, one line.</exception>
    public void EnsureFits(string what, long workingSetBytes)
    {
        if (Fits(workingSetBytes)) return;
        throw new CompressException(ErrorKind.MemoryLimit,
            $"{what} needs {Format(workingSetBytes)} of working memory on top of {Format(ResidentBytes)} resident, over --max-memory {Format(LimitBytes!.Value)}");
    }

    /// <summary>The bytes of a tensor of <paramref name="shape"/> and <paramref name="type"/>, with overflow checked.</summary>
    /// <exception cref="CompressException">A negative dimension, or a size beyond <see cref="long.MaxValue"/>.</exception>
    public static long TensorBytes(IReadOnlyList<long> shape, ScalarType type)
    {
        long bytes = ElementSize(type);
        foreach (var d in shape)
        {
            if (d < 0) throw new CompressException(ErrorKind.InvalidInput, $"negative dimension {d} in shape [{string.Join(", ", shape)}]");
            try { bytes = checked(bytes * d); }
            catch (OverflowException) { throw new CompressException(ErrorKind.InvalidInput, $"shape [{string.Join(", ", shape)}] is too large"); }
        }
        return bytes;
    }

    private static long ElementSize(ScalarType type) => type switch
    {
        ScalarType.Bool or ScalarType.Byte or ScalarType.Int8 => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new ArgumentException($"no element size for {type}", nameof(type)),
    };

    private static readonly (string Suffix, long Factor)[] Units =
    [
        ("kib", 1L << 10), ("mib", 1L << 20), ("gib", 1L << 30), ("tib", 1L << 40),
        ("kb", 1_000), ("mb", 1_000_000), ("gb", 1_000_000_000), ("tb", 1_000_000_000_000),
        ("k", 1L << 10), ("m", 1L << 20), ("g", 1L << 30), ("t", 1L << 40), ("b", 1),
    ];

    /// <summary>Parses a size: a number of bytes with an optional unit, decimal (<c>KB</c>, <c>MB</c>, <c>GB</c>,
    /// <c>TB</c>) or binary (<c>KiB</c>, <c>MiB</c>, <c>GiB</c>, <c>TiB</c>; <c>K</c>/<c>M</c>/<c>G</c>/<c>T</c> alone are
    /// binary too), case-insensitive, e.g. <c>2GB</c>, <c>1.5GiB</c>, <c>500000</c>.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.InvalidOptions"/>: not a positive size.</exception>
    public static long Parse(string text, string option = "--max-memory")
    {
        string s = text.Trim().Replace("_", "", StringComparison.Ordinal);
        long factor = 1;
        foreach (var (suffix, f) in Units)
            if (s.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                factor = f;
                s = s[..^suffix.Length].TrimEnd();
                break;
            }
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || !(value > 0) || value * factor >= long.MaxValue || value * factor < 1)
            throw new CompressException(ErrorKind.InvalidOptions, $"{option} '{text}' is not a size (e.g. 2GB, 512MiB, 1000000)");
        return (long)Math.Round(value * factor);
    }

    /// <summary>A byte count for messages: <c>812 B</c>, <c>64.0 KiB</c>, <c>1.50 GiB</c>.</summary>
    public static string Format(long bytes) => bytes switch
    {
        < 1L << 10 => $"{bytes} B",
        < 1L << 20 => (bytes / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB",
        < 1L << 30 => (bytes / (1024.0 * 1024)).ToString("F1", CultureInfo.InvariantCulture) + " MiB",
        _ => (bytes / (1024.0 * 1024 * 1024)).ToString("F2", CultureInfo.InvariantCulture) + " GiB",
    };
}
