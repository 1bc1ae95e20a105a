using Compressor.Sdk.Models;
using Compressor.Engine.Architectures;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The leaf emitters (LayerNorm, GELU both forms, SiLU, Sigmoid, Tanh, Dropout, Identity, Flatten, Embedding)
/// exported inside a <see cref="LayerList"/> and run in ORT 1.31.1 against TorchSharp (rtol/atol 1e-5).</summary>
public sealed class OnnxEmitterTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("emitter-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Check(CompressibleModel model, string name)
    {
        var export = OnnxExporter.Export(model, Path.Combine(_dir, name + ".onnx"), TestKinds.All);
        var r = OnnxVerifier.Verify(model, export);
        output.WriteLine($"{name}: BASIC max abs {r.MaxAbsError:G3} ({r.SqnrDb:F1} dB), ENABLE_ALL max abs {r.OptimizedMaxAbsError:G3}, fused [{string.Join(", ", r.FusedKernelCounts.Select(kv => $"{kv.Key} ({kv.Value})"))}]");
        Assert.True(r.Passed, string.Join("; ", r.Failures));
        Assert.True(r.MaxAbsError < 1e-5, $"{name}: max abs error {r.MaxAbsError}");
    }

    [Fact]
    public void ActivationsNormsAndDropoutMatch()
    {
        manual_seed(21);
        var layers = new LayerList(new nn.Module[]
        {
            nn.LayerNorm(24), nn.Linear(24, 32), nn.GELU(), nn.Dropout(0.3), nn.Linear(32, 32), nn.GELU(TorchSharp.Modules.GELU.Approximate.tanh),
            nn.SiLU(), nn.Linear(32, 16), nn.Sigmoid(), nn.Identity(), nn.Tanh(), nn.LayerNorm(16, elementwise_affine: false), nn.ReLU(),
        });
        using var model = SingleLayerModel.Wrap(layers, [6, 24], [6, 16]);
        Check(model, "activations");
    }

    [Fact]
    public void FlattenAndConvMatch()
    {
        manual_seed(22);
        var layers = new LayerList(new nn.Module[]
        {
            nn.Conv2d(3, 4, (3, 3), stride: (1, 2), padding: (1, 0), dilation: (2, 1)), nn.Conv2d(4, 8, (1, 1), groups: 4), nn.Flatten(),
        });
        using var model = SingleLayerModel.Wrap(layers, [2, 3, 8, 9], [2, 8 * 6 * 4]);
        Check(model, "conv-flatten");
    }

    [Fact]
    public void EmbeddingMatches()
    {
        manual_seed(23);
        var layers = new LayerList(new nn.Module[] { nn.Embedding(50, 12), nn.Linear(12, 5) });
        using var model = SingleLayerModel.Wrap(layers, [3, 7], [3, 7, 5], OnnxDataType.Int64, valueLimit: 50);
        Check(model, "embedding");
    }
}
