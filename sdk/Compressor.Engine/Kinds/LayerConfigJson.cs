using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Compressor.Sdk.Layers;
using TorchSharp;

namespace Compressor.Engine.Kinds;

/// <summary>The file form of compressed layer configs (<see cref="ICompressedLayer.Config"/>): System.Text.Json with
/// camelCase property names, enums as camelCase strings, required constructor parameters and nullable annotations
/// respected, unknown members skipped. A config is stored with its kind id and the kind's
/// <see cref="ILayerKind.ConfigVersion"/>; reading an older version lets the kind upgrade the JSON first, and a newer
/// one is refused.</summary>
public static class LayerConfigJson
{
    /// <summary>The serializer options of every layer config (read-only).</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>The config of <paramref name="layer"/> as a JSON object.</summary>
    /// <exception cref="CompressException">The config is null or does not serialize to a JSON object (kind
    /// <see cref="ErrorKind.PluginFailed"/>: a bug of the layer kind).</exception>
    public static JsonObject Write(ICompressedLayer layer)
    {
        var config = layer.Config
                     ?? throw new CompressException(ErrorKind.PluginFailed, $"compressed layer kind '{layer.Kind}': the layer's config is null");
        JsonNode? node;
        try { node = JsonSerializer.SerializeToNode(config, config.GetType(), Options); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or JsonException or ArgumentException)
        {
            throw new CompressException(ErrorKind.PluginFailed,
                $"compressed layer kind '{layer.Kind}': its config {config.GetType().Name} cannot be written as JSON: {FirstLine(e.Message)}");
        }
        return node as JsonObject
               ?? throw new CompressException(ErrorKind.PluginFailed,
                   $"compressed layer kind '{layer.Kind}': its config {config.GetType().Name} is not written as a JSON object (use a record with properties)");
    }

    /// <summary>Reads <paramref name="config"/> (written at <paramref name="configVersion"/>) into the config record of
    /// kind <paramref name="kind"/>, upgrading older versions through <see cref="ILayerKind.UpgradeConfig"/>;
    /// <paramref name="config"/> itself is not changed.</summary>
    /// <param name="kinds">The kinds of the run.</param>
    /// <param name="kind">The kind id.</param>
    /// <param name="configVersion">The version the config was written at (1 for files without one).</param>
    /// <param name="config">The config JSON.</param>
    /// <param name="layerName">The layer's name, for messages.</param>
    /// <exception cref="CompressException">An unknown kind, a config version newer than the kind's, or a config that
    /// does not describe a layer of the kind (kind <see cref="ErrorKind.InvalidInput"/>, one line).</exception>
    public static object ReadConfig(LayerKindSet kinds, string kind, int configVersion, JsonObject config, string? layerName = null)
    {
        var k = kinds.Get(kind);
        string who = Who(kind, layerName);
        if (configVersion < 1)
            throw new CompressException(ErrorKind.InvalidInput, $"{who}: config version {configVersion} is not valid (versions start at 1)");
        if (configVersion > k.ConfigVersion)
            throw new CompressException(ErrorKind.InvalidInput,
                $"{who}: config version {configVersion} is newer than this tool's ({k.ConfigVersion}); update compress");
        try
        {
            var json = (JsonObject)config.DeepClone();
            if (configVersion < k.ConfigVersion) k.UpgradeConfig(configVersion, json);
            return json.Deserialize(k.ConfigType, Options)
                   ?? throw new CompressException(ErrorKind.InvalidInput, $"{who}: invalid config: null");
        }
        catch (Exception e) when (IsConfigError(e))
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{who}: invalid config: {FirstLine(e.Message)}");
        }
    }

    /// <summary>Rebuilds an empty layer (its tensors uninitialised, to be loaded by name) of kind
    /// <paramref name="kind"/> from its stored config (see <see cref="ReadConfig"/>).</summary>
    /// <exception cref="CompressException">As <see cref="ReadConfig"/>; a config the kind's factory refuses.</exception>
    public static torch.nn.Module Create(LayerKindSet kinds, string kind, int configVersion, JsonObject config, string? layerName = null)
    {
        var typed = ReadConfig(kinds, kind, configVersion, config, layerName);
        try { return kinds.Get(kind).Create(typed); }
        catch (ArgumentException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{Who(kind, layerName)}: invalid config: {FirstLine(e.Message)}");
        }
    }

    /// <summary>A layer of the same kind and config as <paramref name="layer"/> (through the file form), empty.</summary>
    /// <exception cref="CompressException">As <see cref="Create"/>.</exception>
    public static torch.nn.Module CreateLike(LayerKindSet kinds, ICompressedLayer layer, string? layerName = null) =>
        Create(kinds, layer.Kind, kinds.Get(layer.Kind).ConfigVersion, Write(layer), layerName);

    private static string Who(string kind, string? layerName) =>
        layerName is null ? $"compressed layer of kind '{kind}'" : $"compressed layer '{layerName}' (kind {kind})";

    private static bool IsConfigError(Exception e) =>
        e is JsonException or NotSupportedException or ArgumentException or FormatException or InvalidOperationException or InvalidCastException;

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            RespectRequiredConstructorParameters = true,
            RespectNullableAnnotations = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.MakeReadOnly();
        return options;
    }
}
