namespace Compressor.Layers.Geometry;

/// <summary>Builds the <see cref="LayerConfig{TFormat, TGeometry}"/> of a format and a geometry known only at run time.</summary>
public static class LayerConfigs
{
    /// <summary>The config of <paramref name="format"/> on <paramref name="geometry"/>, typed on the geometry's type.</summary>
    /// <exception cref="ArgumentException">A geometry other than linear, conv2d or embedding.</exception>
    public static object Create<TFormat>(TFormat format, WeightGeometry geometry) where TFormat : class => geometry switch
    {
        LinearGeometry g => new LayerConfig<TFormat, LinearGeometry>(format, g),
        Conv2dGeometry g => new LayerConfig<TFormat, Conv2dGeometry>(format, g),
        EmbeddingGeometry g => new LayerConfig<TFormat, EmbeddingGeometry>(format, g),
        _ => throw new ArgumentException($"no config for geometry {geometry.GetType().Name}", nameof(geometry)),
    };
}
