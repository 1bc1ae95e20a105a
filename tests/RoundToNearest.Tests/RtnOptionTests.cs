using Compressor.Samples.RoundToNearest;
using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Layers.Geometry;
using Compressor.Layers.Packing;
using Compressor.Layers.Quantized;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Compressor.Sdk.Testing;
using static TorchSharp.torch;

namespace RoundToNearest.Tests;

/// <summary>rtn's full signed grid, <c>--embeddings</c> and <c>--high-precision-layers</c>.</summary>
public sealed class RtnOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rtn-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A token table followed by a projection.</summary>
    private sealed class EmbeddingModel : LayerContainer
    {
        public EmbeddingModel() : base(nameof(EmbeddingModel))
        {
            register_module("embed", nn.Embedding(50, 48));
            register_module("proj", nn.Linear(48, 8));
        }

        public override Tensor forward(Tensor ids) => Child("proj").forward(Child("embed").forward(ids));
    }

    private PluginContext Context(CompressibleModel model) =>
        new() { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = new ReportBuilder() };

    [Fact]
    public void SymmetricGridUsesTheNegativeCode()
    {
        // Every group spans codes −8 … 7 exactly: the full signed grid recovers them; a ±7 grid (s = max|w|/7) cannot.
        var codes = randint(-8, 8, [4, 64], dtype: ScalarType.Int32);
        codes[TensorIndex.Colon, TensorIndex.Slice(0, 64, 32)] = tensor(-8);
        codes[TensorIndex.Colon, TensorIndex.Slice(1, 64, 32)] = tensor(7);
        var scales = rand(4, 2).add(0.1f);
        using var w = GroupQuantization.Dequantize(codes, scales, null, 32);
        var q = RoundToNearestQuantizer.Quantize(w, 4, 32, QuantScheme.Symmetric, clipSearch: false);
        Tolerances.AssertIdentical(codes, q.Codes, "codes");
        Tolerances.AssertClose(scales, q.Scales, rtol: 1e-6, atol: 0, "scales");
    }

    [Fact]
    public void EmbeddingsOptionQuantizesTablesIntoADeclaredKind()
    {
        manual_seed(3);
        using var model = new CompressibleModel(new EmbeddingModel(), null);
        var ids = tensor(new long[] { 0, 49, 3, 3, 17, 8 }).reshape(2, 3);
        var dense = ((TorchSharp.Modules.Embedding)model.GetLayer("embed")).weight!.detach().clone();
        using var reference = model.Forward(ids);

        new RtnPlugin().Run(Context(model), new RtnOptions { WeightBits = 4, GroupSize = 16 });
        Assert.IsType<TorchSharp.Modules.Embedding>(model.GetLayer("embed"));   // not without --embeddings

        using var quantizedModel = new CompressibleModel(new EmbeddingModel(), null);
        using (no_grad()) ((TorchSharp.Modules.Embedding)quantizedModel.GetLayer("embed")).weight!.copy_(dense);
        new RtnPlugin().Run(Context(quantizedModel), new RtnOptions { WeightBits = 4, GroupSize = 16, Embeddings = true });
        var table = Assert.IsType<QuantizedLayer>(quantizedModel.GetLayer("embed"));
        Assert.IsType<EmbeddingGeometry>(table.Geometry);
        Assert.Equal(QuantizedKinds.Embedding.Id, table.Kind);
        Assert.Equal(4, table.Bits);
        using var deq = table.DenseWeight();
        // 4-bit, groups of 16, full signed grid on N(0,1) rows: ≈ 21 dB (RoundToNearestQuantizerTests); floor 18 dB.
        double sqnr = Sqnr.Db(dense, deq);
        Assert.True(sqnr > 18, $"table SQNR {sqnr:F1} dB");
        using (var rows = table.forward(ids))
            Tolerances.AssertIdentical(deq.index_select(0, ids.flatten()).reshape(2, 3, 48), rows, "looked-up rows");

        // The declared kind (among the layers library's kinds) rebuilds the layer from its config in the file form;
        // the buffers reload by name.
        Assert.True(RtnKinds.All.Contains(table.Kind));
        using var rebuilt = (QuantizedLayer)LayerConfigJson.CreateLike(RtnKinds.All, table, "embed");
        foreach (var (name, buffer) in table.named_buffers())
            using (no_grad()) rebuilt.get_buffer(name)!.copy_(buffer);
        using (var a = table.forward(ids))
        using (var b = rebuilt.forward(ids))
            Tolerances.AssertIdentical(a, b, "rebuilt table");
    }

    [Fact]
    public void HighPrecisionLayersStayAtEightBitsPerChannel()
    {
        using var model = TinyModels.Mlp(seed: 2, kinds: new RtnPlugin().LayerKinds);
        var names = model.Select(LayerType.Linear, LayerSelector.All).Select(l => l.Name).ToList();
        var report = new ReportBuilder();
        new RtnPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(_dir, RtnKinds.All), Report = report },
            new RtnOptions { WeightBits = 4, GroupSize = 16, HighPrecisionLayers = [names[0]] });
        var first = Assert.IsType<QuantizedLayer>(model.GetLayer(names[0]));
        Assert.Equal(QuantizedKinds.Linear.Id, first.Kind);
        Assert.Equal((8, 0), (first.Bits, first.GroupSize));
        foreach (var name in names.Skip(1))
        {
            var other = Assert.IsType<QuantizedLayer>(model.GetLayer(name));
            Assert.Equal(QuantizedKinds.Linear.Id, other.Kind);
            Assert.Equal((4, 16), (other.Bits, other.GroupSize));
        }
        var layers = names.Select(n => (ICompressedLayer)model.GetLayer(n)).ToList();
        double expected = (double)layers.Sum(l => l.WeightStorageBits) / layers.Sum(l => l.DenseWeightShape.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(expected, report.Metrics.Single(m => m.Name == "quantizedBitsPerWeight").Value, 9);

        using var other2 = TinyModels.Mlp(seed: 2, kinds: new RtnPlugin().LayerKinds);
        var e = Assert.Throws<CompressException>(() => new RtnPlugin().Run(Context(other2), new RtnOptions { HighPrecisionLayers = ["nothing.*"] }));
        Assert.Contains("--high-precision-layers", e.Message);
    }
}
