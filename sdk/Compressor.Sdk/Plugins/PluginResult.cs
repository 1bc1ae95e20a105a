using Compressor.Sdk.Models;
using Compressor.Sdk.Onnx;

namespace Compressor.Sdk.Plugins;

/// <summary>What a plugin returns: the rewritten model and an ONNX lowering for each layer kind it introduced that
/// the SDK does not already lower.</summary>
/// <param name="Model">The rewritten model (usually the context's model, changed in place).</param>
/// <param name="Lowerings">Lowerings of new layer kinds, by kind id.</param>
public sealed record PluginResult(CompressibleModel Model, IReadOnlyList<IOnnxLowering> Lowerings)
{
    /// <summary>A result that adds no layer kinds beyond the SDK's.</summary>
    public static PluginResult Of(CompressibleModel model) => new(model, []);
}
