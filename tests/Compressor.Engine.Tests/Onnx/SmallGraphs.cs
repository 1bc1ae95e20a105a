using Onnx;
using static Compressor.Engine.Tests.Onnx.OnnxGraphs;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>Small ONNX models shaped like real exports, with deterministic weights.</summary>
internal static class SmallGraphs
{
    /// <summary>x[batch, 8] → MatMul(anonymous transposed weight) + Add(fc1.bias) → Relu → Gemm(fc2.weight, fc2.bias,
    /// transB, alpha 0.5, beta 2) → y[batch, 4]; opset 13, dynamic batch.</summary>
    public static ModelProto Mlp()
    {
        var g = manual_seed(11);
        var w1 = randn([8, 16], generator: g);
        var b1 = randn([16], generator: g);
        var w2 = randn([4, 16], generator: g);
        var b2 = randn([4], generator: g);
        return Model(13,
            [
                Node("MatMul", "MatMul_0", ["x", "onnx::MatMul_7"], ["h0"]),
                Node("Add", "Add_1", ["fc1.bias", "h0"], ["h1"]),
                Node("Relu", "Relu_2", ["h1"], ["h2"]),
                Node("Gemm", "Gemm_3", ["h2", "fc2.weight", "fc2.bias"], ["y"], Attr("transB", 1L), Attr("alpha", 0.5f), Attr("beta", 2f)),
            ],
            [Float("x", "batch", 8)], [Float("y", "batch", 4)],
            [Init("onnx::MatMul_7", w1), Init("fc1.bias", b1), Init("fc2.weight", w2), Init("fc2.bias", b2)]);
    }

    /// <summary>The same computation as <see cref="Mlp"/> in plain torch ops, from the model's initializers.</summary>
    public static Tensor MlpReference(ModelProto model, Tensor x)
    {
        Tensor I(string name) => Compressor.Engine.Onnx.Import.OnnxTensorConversion.ToTensor(model.Graph.Initializer.Single(i => i.Name == name), name);
        var h = nn.functional.relu(x.matmul(I("onnx::MatMul_7")) + I("fc1.bias"));
        return 0.5f * h.matmul(I("fc2.weight").t()) + 2f * I("fc2.bias");
    }

    /// <summary>x[1, 3, 9, 9] → Conv(conv1.weight/bias, stride 2, pads [1,1,0,0]) → BatchNormalization → Relu →
    /// MaxPool(3, stride 2, pads [1,1,0,0]) → AveragePool(2, pads [0,0,1,1], count_include_pad 0) → Flatten → y;
    /// opset 8, like the CNTK export of ResNet18.</summary>
    public static ModelProto Cnn()
    {
        var g = manual_seed(12);
        return Model(8,
            [
                Node("Conv", "Convolution1", ["x", "conv1.weight", "conv1.bias"], ["c"], Attr("kernel_shape", 3L, 3L), Attr("strides", 2L, 2L), Attr("pads", 1L, 1L, 0L, 0L)),
                Node("BatchNormalization", "BN2", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n"], Attr("epsilon", 1e-5f)),
                Node("Relu", "ReLU3", ["n"], ["r"]),
                Node("MaxPool", "Pool4", ["r"], ["m"], Attr("kernel_shape", 3L, 3L), Attr("strides", 2L, 2L), Attr("pads", 1L, 1L, 0L, 0L)),
                Node("AveragePool", "Pool5", ["m"], ["a"], Attr("kernel_shape", 2L, 2L), Attr("pads", 0L, 0L, 1L, 1L), Attr("count_include_pad", 0L)),
                Node("Flatten", "Flatten6", ["a"], ["y"]),
            ],
            [Float("x", 1, 3, 9, 9)], [Float("y", 1, "n")],
            [
                Init("conv1.weight", randn([4, 3, 3, 3], generator: g)), Init("conv1.bias", randn([4], generator: g)),
                Init("bn.scale", rand([4], generator: g) + 0.5), Init("bn.bias", randn([4], generator: g)),
                Init("bn.mean", randn([4], generator: g)), Init("bn.var", rand([4], generator: g) + 0.5),
            ]);
    }

    /// <summary>ids[batch, seq] (int64) → Gather(tok.weight[10, 6]) → ReduceMean(axis 1) → MatMul(head.weight
    /// [6, 3]) → y[batch, 3]; opset 13.</summary>
    public static ModelProto Embed()
    {
        var g = manual_seed(13);
        return Model(13,
            [
                Node("Gather", "Gather_0", ["tok.weight", "ids"], ["e"]),
                Node("ReduceMean", "Mean_1", ["e"], ["m"], Attr("axes", new long[] { 1 }), Attr("keepdims", 0L)),
                Node("MatMul", "MatMul_2", ["m", "head.weight"], ["y"]),
            ],
            [Value("ids", (int)TensorProto.Types.DataType.Int64, "batch", "seq")], [Float("y", "batch", 3)],
            [Init("tok.weight", randn([10, 6], generator: g)), Init("head.weight", randn([6, 3], generator: g))]);
    }
}
