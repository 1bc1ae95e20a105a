using Compressor.Sdk.Compression;
using Compressor.Sdk.Onnx;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Sdk.Tests.Onnx;

/// <summary>A "compressed" layer that claims 4 bits per weight but whose lowering writes float32 weights: what the
/// size gate exists to catch.</summary>
internal sealed class FakeQuantLayer : nn.Module<Tensor, Tensor>, ICompressedLayer
{
    public const string KindId = "test_fake_quant";

    public FakeQuantLayer(long inFeatures, long outFeatures) : base(nameof(FakeQuantLayer))
    {
        register_buffer("weight", randn(outFeatures, inFeatures).DetachFromDisposeScope());
    }

    public Tensor Weight => get_buffer("weight")!;
    public string Kind => KindId;
    public JObject Config => new();
    public long[] DenseWeightShape => Weight.shape;
    public Tensor DenseWeight() => Weight.clone();
    public long WeightStorageBits => Weight.numel() * 4;
    public override Tensor forward(Tensor input) => nn.functional.linear(input, Weight);

    public sealed class Lowering : IOnnxLowering
    {
        public string LayerKind => KindId;

        public void Lower(ILoweringContext context, nn.Module layer, string input, string output)
        {
            using var w = ((FakeQuantLayer)layer).Weight.t().contiguous();
            string name = context.UniqueName("weight_t");
            context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, w.shape, w.bytes.ToArray()));
            context.AddNode("MatMul", [input, name], [output]);
        }
    }
}
