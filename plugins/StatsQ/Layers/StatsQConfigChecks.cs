using Compressor.Sdk;

namespace Compressor.Plugins.StatsQ.Layers;

/// <summary>Range checks of the shipped layers' configs, with one-line messages (a config comes from a file).</summary>
internal static class StatsQConfigChecks
{
    /// <summary>Throws unless <paramref name="min"/> ≤ <paramref name="value"/> ≤ <paramref name="max"/>.</summary>
    public static void Range(string what, string key, long value, long min, long max)
    {
        if (value < min || value > max)
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: compressed layer config '{key}' is {value}, outside {min}..{max}");
    }

    /// <summary>Throws unless <paramref name="shape"/> has at most 4 dimensions, each in 1..2^24.</summary>
    public static void Shape(string what, string key, long[]? shape, int? length = null)
    {
        if (shape is null || shape.Length > 4 || (length is { } n && shape.Length != n) || shape.Any(d => d < 1 || d > 1 << 24))
            throw new CompressException(ErrorKind.InvalidInput, $"{what}: compressed layer config '{key}' missing or invalid");
    }
}
