using Compressor.Engine.Onnx.Export;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Tests.Shared;

/// <summary>A root that wraps one layer (child "layer") so that a lowering can be exported and run alone.</summary>
internal sealed class SingleLayerModel : LayerContainer, IOnnxExportableModel
{
    public SingleLayerModel(nn.Module layer, long[] inputShape, long[] outputShape, int inputType = OnnxDataType.Float, long valueLimit = 0) : base("single")
    {
        register_module("layer", layer);
        OnnxInputs = [new OnnxValueSpec("x", inputType, Dims(inputShape), valueLimit)];
        OnnxOutputs = [new OnnxValueSpec("y", OnnxDataType.Float, Dims(outputShape))];
    }

    private static OnnxDim[] Dims(long[] shape) => shape.Select((d, i) => i == 0 ? OnnxDim.Named("batch", d) : OnnxDim.Fixed(d)).ToArray();

    public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

    public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

    public override Tensor forward(Tensor input) => Child("layer").forward(input);

    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs) => context.EmitChild("layer", inputs);

    public static CompressibleModel Wrap(nn.Module layer, long[] inputShape, long[] outputShape, int inputType = OnnxDataType.Float, long valueLimit = 0) =>
        new(new SingleLayerModel(layer, inputShape, outputShape, inputType, valueLimit), null);
}
