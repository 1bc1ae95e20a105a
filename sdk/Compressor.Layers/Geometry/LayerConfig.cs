using System.Text.Json.Serialization;

namespace Compressor.Layers.Geometry;

/// <summary>The config of a layer kind made of a weight representation and a geometry: the representation's format
/// (bits, group size, codebook variant, rank, …) and the geometry's sizes. In the file both are written as one flat
/// JSON object with the fields of both, as format 1 wrote them (<c>{"bits": 4, "groupSize": 32, "symmetric": true,
/// "inFeatures": 64, "outFeatures": 10, "bias": true}</c>).</summary>
/// <typeparam name="TFormat">The representation's format record.</typeparam>
/// <typeparam name="TGeometry">The geometry record.</typeparam>
/// <param name="Format">The representation's format.</param>
/// <param name="Geometry">The geometry.</param>
[JsonConverter(typeof(FlatLayerConfigConverterFactory))]
public sealed record LayerConfig<TFormat, TGeometry>(TFormat Format, TGeometry Geometry)
    where TFormat : class
    where TGeometry : WeightGeometry;
