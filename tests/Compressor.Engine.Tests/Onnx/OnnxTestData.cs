using Compressor.Engine.Onnx.Import;
using Onnx;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The ONNX operator conformance cases of Debian's <c>libonnx-testdata</c> (1.12.0), when installed:
/// <c>apt-get install -y libonnx-testdata</c>.</summary>
internal static class OnnxTestData
{
    public const string Root = "/usr/share/libonnx-testdata/data/node";

    public static bool Installed => Directory.Exists(Root);

    /// <summary>Imports case <paramref name="name"/>, runs its first data set and returns the failures (empty when
    /// every output matches: floats within |Δ| ≤ 1e-5 + 1e-3·|expected|, other types exactly).</summary>
    public static List<string> Check(string name)
    {
        string dir = Path.Combine(Root, name);
        var model = OnnxImporter.ReadModel(Path.Combine(dir, "model.onnx"));
        using var module = OnnxImporter.Import(model, dir, name);
        string data = Path.Combine(dir, "test_data_set_0");
        using var scope = NewDisposeScope();
        var inputs = new Dictionary<string, Tensor>();
        for (int i = 0; i < module.InputNames.Count; i++)
            inputs[module.InputNames[i]] = Load(Path.Combine(data, $"input_{i}.pb"));
        var outputs = module.Run(inputs);
        var failures = new List<string>();
        for (int i = 0; i < module.OutputNames.Count; i++)
        {
            var expected = Load(Path.Combine(data, $"output_{i}.pb"));
            var actual = outputs[module.OutputNames[i]];
            if (!expected.shape.SequenceEqual(actual.shape))
                failures.Add($"{name} output {i}: shape [{string.Join(",", actual.shape)}], expected [{string.Join(",", expected.shape)}]");
            else if (expected.dtype != actual.dtype)
                failures.Add($"{name} output {i}: {actual.dtype}, expected {expected.dtype}");
            else if (expected.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16)
            {
                var e64 = expected.to_type(ScalarType.Float64);
                var a64 = actual.to_type(ScalarType.Float64);
                if (!allclose(a64, e64, rtol: 1e-3, atol: 1e-5, equal_nan: true))
                    failures.Add($"{name} output {i}: max |Δ| {(a64 - e64).abs().max().item<double>():E2}");
            }
            else if (!actual.eq(expected).all().item<bool>())
                failures.Add($"{name} output {i}: values differ");
        }
        return failures;
    }

    private static Tensor Load(string path) =>
        OnnxTensorConversion.ToTensor(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path);
}

/// <summary>A fact that is skipped when <c>libonnx-testdata</c> is not installed.</summary>
public sealed class OnnxTestDataTheoryAttribute : TheoryAttribute
{
    public OnnxTestDataTheoryAttribute()
    {
        if (!OnnxTestData.Installed) Skip = "libonnx-testdata is not installed (apt-get install -y libonnx-testdata)";
    }
}
