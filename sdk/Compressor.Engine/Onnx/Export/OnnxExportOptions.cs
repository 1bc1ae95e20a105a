namespace Compressor.Engine.Onnx.Export;

/// <summary>How <see cref="OnnxExporter"/> writes a model.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The default <c>ai.onnx</c> opset: 21 (IR 10), the first with int4/uint4 and blocked DequantizeLinear.</summary>
    public const int DefaultOpset = 21;

    /// <summary>The highest <c>ai.onnx</c> opset this exporter writes (25: int2/uint2).</summary>
    public const int MaximumOpset = 25;

    /// <summary>The protobuf limit: a model file cannot exceed 2 GiB, so larger models put tensors in a side file.</summary>
    public const long ProtobufLimit = int.MaxValue;

    /// <summary>The <c>ai.onnx</c> opset to declare; null: <see cref="DefaultOpset"/>, raised to what the layers need
    /// (25 where int2/uint2 weights are written). A value below what the layers need is an error.</summary>
    public int? Opset { get; init; }

    /// <summary>When the initializers add up to more than this many bytes, every initializer of at least
    /// <see cref="ExternalDataMinimumBytes"/> goes to a side file <c>&lt;model file&gt;.data</c>
    /// (<c>data_location = EXTERNAL</c>). Default: 1.75 GiB, leaving room for the graph under the 2 GiB limit.</summary>
    public long ExternalDataThreshold { get; init; } = 1879048192;

    /// <summary>Initializers smaller than this stay inside the model file when external data is used.</summary>
    public long ExternalDataMinimumBytes { get; init; } = 1024;

    /// <summary>What the export is optimised for, handed to every compressed layer's lowering
    /// (<see cref="Compressor.Sdk.Layers.ILoweringContext.Target"/>): <see cref="Compressor.Sdk.Layers.ExportTarget.Size"/> (default)
    /// or <see cref="Compressor.Sdk.Layers.ExportTarget.Speed"/> (ONNX Runtime's integer kernels).</summary>
    public Compressor.Sdk.Layers.ExportTarget Target { get; init; } = Compressor.Sdk.Layers.ExportTarget.Size;

    /// <summary>Tokens per inference call the graph is made for, handed to every compressed layer's lowering
    /// (<see cref="Compressor.Sdk.Layers.ILoweringContext.DeployTokens"/>; 1 for a decoder's decoding steps); 0: not
    /// given, layers keep the form their checkpoint records.</summary>
    public int DeployTokens { get; init; }

    /// <summary>The graph name (default: the architecture name).</summary>
    public string? GraphName { get; init; }
}
