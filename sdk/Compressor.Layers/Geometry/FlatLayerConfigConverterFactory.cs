using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Compressor.Layers.Geometry;

/// <summary>Writes a <see cref="LayerConfig{TFormat, TGeometry}"/> as one flat JSON object (the format's fields, then
/// the geometry's) and reads it back by reading the same object as each part; a field both parts define is an error.
/// Serializer options (naming, enums, required members) are the caller's.</summary>
public sealed class FlatLayerConfigConverterFactory : JsonConverterFactory
{
    /// <inheritdoc/>
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(LayerConfig<,>);

    /// <inheritdoc/>
    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        var args = typeToConvert.GetGenericArguments();
        return (JsonConverter)Activator.CreateInstance(typeof(Converter<,>).MakeGenericType(args))!;
    }

    private sealed class Converter<TFormat, TGeometry> : JsonConverter<LayerConfig<TFormat, TGeometry>>
        where TFormat : class
        where TGeometry : WeightGeometry
    {
        public override LayerConfig<TFormat, TGeometry> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var node = JsonNode.Parse(ref reader) as JsonObject ?? throw new JsonException("a layer config must be a JSON object");
            var format = node.Deserialize<TFormat>(options) ?? throw new JsonException("the config has no weight format");
            var geometry = node.Deserialize<TGeometry>(options) ?? throw new JsonException("the config has no geometry");
            return new LayerConfig<TFormat, TGeometry>(format, geometry);
        }

        public override void Write(Utf8JsonWriter writer, LayerConfig<TFormat, TGeometry> value, JsonSerializerOptions options)
        {
            var flat = JsonSerializer.SerializeToNode(value.Format, options) as JsonObject ?? throw new JsonException("the weight format must serialise to an object");
            var geometry = JsonSerializer.SerializeToNode(value.Geometry, options) as JsonObject ?? throw new JsonException("the geometry must serialise to an object");
            foreach (var (key, field) in geometry.ToList())
            {
                if (flat.ContainsKey(key)) throw new JsonException($"field '{key}' is both in {typeof(TFormat).Name} and {typeof(TGeometry).Name}");
                geometry.Remove(key);
                flat[key] = field;
            }
            flat.WriteTo(writer, options);
        }
    }
}
