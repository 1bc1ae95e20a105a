using Compressor.Engine.Data;
using Compressor.Sdk.Data;
using Compressor.Engine.Evaluation;
using Compressor.Sdk.Layers;
using Google.Protobuf;
using Newtonsoft.Json.Linq;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Host.Tests;

/// <summary>Perplexity on ONNX Runtime for token data: a hand-built bigram model (logits = table[token], one Gather)
/// gives exp of the mean cross-entropy that TorchSharp computes from the same table (rtol 1e-5).</summary>
public sealed class EvalPerplexityTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private const double RelativeTolerance = 1e-5;

    [Fact]
    public void PerplexityMatchesTheCrossEntropyOfTheLogits()
    {
        string dir = fx.NewDir("eval-ppl");
        string corpus = Path.Combine(dir, "corpus.txt");
        var random = new Random(3);
        File.WriteAllText(corpus, string.Concat(Enumerable.Range(0, 4000).Select(_ => "abcde fgh."[random.Next(10)])));
        string spec = $"text:{corpus},context=16";
        using var data = DataSources.Open(spec, 0);
        int vocab = data.Info.VocabularySize;
        var table = Enumerable.Range(0, vocab * vocab).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        string onnx = Path.Combine(dir, "bigram.onnx");
        File.WriteAllBytes(onnx, Bigram(table, vocab).ToByteArray());

        var result = OrtEvaluation.Run(onnx, onnx, data.Evaluation, data.Info.Kind, new OrtEvaluationOptions { Runs = 2, BatchSize = 8 });
        double ort = result[EvaluationMetricNames.Perplexity]!.Value;

        double loss = 0;
        long count = 0;
        using var logitsTable = tensor(table, [vocab, vocab]);
        foreach (var batch in data.Evaluation.Batches(8))
        {
            using var b = batch;
            using var scope = NewDisposeScope();
            var logits = logitsTable.index_select(0, b.Input.reshape(-1));
            loss += nn.functional.cross_entropy(logits.to_type(ScalarType.Float64), b.Target!.reshape(-1), reduction: nn.Reduction.Sum).item<double>();
            count += b.Target!.numel();
        }
        double expected = Math.Exp(loss / count);
        Assert.True(Math.Abs(ort - expected) <= RelativeTolerance * expected, $"perplexity: ORT {ort} vs TorchSharp {expected} (rtol {RelativeTolerance})");
        Assert.Equal(1.0, result[EvaluationMetricNames.Top1Agreement]!.Value);
        Assert.Null(result[EvaluationMetricNames.Accuracy]);

        var (code, stdout, stderr) = HostFixture.Cli("eval", onnx, "--data", spec, "--runs", "2", "--format", "json", "-v", "q");
        Assert.True(code == 0, stderr);
        Assert.Contains(JObject.Parse(stdout)["metrics"]!, m => (string?)m["name"] == "perplexity");
    }

    /// <summary>ids [N, T] (int64) → Gather(table [V, V]) → logits [N, T, V].</summary>
    private static ModelProto Bigram(float[] table, int vocab)
    {
        var graph = new GraphProto { Name = "bigram" };
        var weights = new TensorProto { Name = "table", DataType = OnnxDataType.Float, RawData = ByteString.CopyFrom(table.SelectMany(BitConverter.GetBytes).ToArray()) };
        weights.Dims.Add(vocab);
        weights.Dims.Add(vocab);
        graph.Initializer.Add(weights);
        var node = new NodeProto { OpType = "Gather", Name = "lookup" };
        node.Input.Add("table");
        node.Input.Add("ids");
        node.Output.Add("logits");
        graph.Node.Add(node);
        graph.Input.Add(Value("ids", OnnxDataType.Int64, ["N", "T"]));
        graph.Output.Add(Value("logits", OnnxDataType.Float, ["N", "T", vocab.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        var model = new ModelProto { IrVersion = 10, ProducerName = "tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        return model;
    }

    private static ValueInfoProto Value(string name, int type, string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(long.TryParse(d, out long v) ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = type, Shape = shape } } };
    }
}
