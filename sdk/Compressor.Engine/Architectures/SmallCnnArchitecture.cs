using Compressor.Sdk.Models;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A small convolutional classifier for tests and examples: 3×3 convolutions (<c>convs.0</c>, <c>convs.2</c>,
/// …; ReLU between, stride 2 after the first), global average pooling, then a linear <c>head</c>.</summary>
public sealed class SmallCnnArchitecture : IArchitecture
{
    /// <inheritdoc/>
    public string Name => "cnn";

    /// <inheritdoc/>
    public string Description => "small CNN (convs.N 3x3, global average pool, head); config inChannels, channels[], outputs";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var c = ConfigReader.Merge(new JObject { ["inChannels"] = 1, ["channels"] = new JArray(8, 16), ["outputs"] = 10 }, config, Name);
        ConfigReader.Int(c, "inChannels", 1, 4096);
        ConfigReader.Ints(c, "channels", 1, 1 << 16);
        ConfigReader.Int(c, "outputs", 1, 1 << 24);
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject config)
    {
        int inCh = ConfigReader.Int(config, "inChannels", 1, 4096);
        int[] channels = ConfigReader.Ints(config, "channels", 1, 1 << 16);
        int outputs = ConfigReader.Int(config, "outputs", 1, 1 << 24);
        var convs = new List<nn.Module>();
        int c = inCh;
        for (int i = 0; i < channels.Length; i++)
        {
            convs.Add(nn.Conv2d(c, channels[i], (3, 3), stride: i == 0 ? (1, 1) : (2, 2), padding: (1, 1)));
            convs.Add(nn.ReLU());
            c = channels[i];
        }
        return new SmallCnn(convs, nn.Linear(c, outputs), inCh, outputs);
    }

    /// <summary>ONNX: graph input <c>input</c> [batch, inChannels, height, width] (float), the convolutions,
    /// ReduceMean over the spatial axes, the head, output <c>logits</c>.</summary>
    private sealed class SmallCnn : LayerContainer, IOnnxExportableModel
    {
        public SmallCnn(IEnumerable<nn.Module> convs, nn.Module head, int inChannels, int outputs) : base("cnn")
        {
            register_module("convs", new LayerList(convs));
            register_module("head", head);
            OnnxInputs = [new OnnxValueSpec("input", OnnxDataType.Float,
                [OnnxDim.Named("batch", 4), OnnxDim.Fixed(inChannels), OnnxDim.Named("height", 12), OnnxDim.Named("width", 12)])];
            OnnxOutputs = [new OnnxValueSpec("logits", OnnxDataType.Float, [OnnxDim.Named("batch", 4), OnnxDim.Fixed(outputs)])];
        }

        public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

        public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

        public IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs)
        {
            var features = context.EmitChild("convs", inputs);
            string pooled = context.UniqueName("pool");
            var keep = new Dictionary<string, object> { ["keepdims"] = 0L };
            if (context.Opset >= 18) context.AddNode("ReduceMean", [features[0], context.Int64Constant(2, 3)], [pooled], keep);
            else context.AddNode("ReduceMean", [features[0]], [pooled], new Dictionary<string, object> { ["axes"] = new long[] { 2, 3 }, ["keepdims"] = 0L });
            return context.EmitChild("head", [pooled]);
        }

        public override Tensor forward(Tensor input)
        {
            using var features = Child("convs").forward(input);
            using var pooled = features.mean([2L, 3L]);
            return Child("head").forward(pooled);
        }
    }
}
