using System.Text.Json.Nodes;
using Compressor.Layers.Geometry;
using Compressor.Layers.Lowering;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Codebook;

/// <summary>The grouped-codebook kinds, one per geometry: <c>codebook_linear</c> and <c>codebook_conv2d</c>
/// (<see cref="CodebookLayer"/>, lowered by <see cref="CodebookLowering"/>).</summary>
/// <typeparam name="TGeometry">The geometry.</typeparam>
public sealed class CodebookKind<TGeometry> : LayerKind<CodebookLayer, LayerConfig<CodebookFormat, TGeometry>> where TGeometry : WeightGeometry
{
    internal CodebookKind(string geometryId) => Id = CodebookLayer.Representation + "_" + geometryId;

    /// <inheritdoc/>
    public override string Id { get; }

    /// <summary>Version 2 adds <c>packing</c> (<see cref="IndexPacking"/>): new layers pack their indices densely;
    /// version-1 configs stored them in byte-aligned containers and are upgraded to say so.</summary>
    public override int ConfigVersion => 2;

    /// <inheritdoc/>
    public override void UpgradeConfig(int fromVersion, JsonObject config)
    {
        if (fromVersion < 2 && !config.ContainsKey("packing")) config["packing"] = "containers";
    }

    /// <inheritdoc/>
    public override CodebookLayer Create(LayerConfig<CodebookFormat, TGeometry> config) => new(config.Format, config.Geometry);

    /// <inheritdoc/>
    public override void Lower(ILoweringContext context, CodebookLayer layer, string input, string output)
    {
        CodebookSpeedCheck.Refuse(context, layer);
        GeometryLowering.Lower(context, layer, CodebookLowering.Instance, input, output);
    }
}
