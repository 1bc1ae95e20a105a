using Compressor.Sdk.Layers;
using static TorchSharp.torch;

namespace Compressor.Layers.Lowering;

/// <summary>Constants and single nodes for lowerings: every initializer takes a fresh name from the context
/// (<see cref="ILoweringContext.UniqueName"/>), so the names, and with them the exported bytes, depend only on the
/// order of the calls.</summary>
public static class Initializers
{
    /// <summary>Adds <paramref name="value"/> as a float32 initializer of its own shape; returns its name.</summary>
    public static string Float(ILoweringContext context, string hint, Tensor value)
    {
        using var scope = NewDisposeScope();
        var t = value.detach().cpu().to_type(ScalarType.Float32).contiguous();
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, t.shape, t.bytes.ToArray()));
        return name;
    }

    /// <summary>Adds a float32 scalar; returns its name.</summary>
    public static string FloatScalar(ILoweringContext context, string hint, float value)
    {
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Float, [], BitConverter.GetBytes(value)));
        return name;
    }

    /// <summary>Adds an int64 initializer of shape <paramref name="dims"/> (shapes, axes, offsets: metadata, never weights).</summary>
    public static string Int64(ILoweringContext context, string hint, long[] dims, params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        string name = context.UniqueName(hint);
        context.AddInitializer(new OnnxInitializer(name, OnnxDataType.Int64, dims, bytes));
        return name;
    }

    /// <summary>Adds an int64 vector [values.Length].</summary>
    public static string Int64Vector(ILoweringContext context, string hint, params long[] values) => Int64(context, hint, [values.Length], values);

    /// <summary>Adds an int64 scalar.</summary>
    public static string Int64Scalar(ILoweringContext context, string hint, long value) => Int64(context, hint, [], value);

    /// <summary>Adds a layer's bias as a float32 initializer named <c>bias</c>; returns its name, or null without bias.</summary>
    public static string? Bias(ILoweringContext context, Tensor? bias) => bias is null ? null : Float(context, "bias", bias);

    /// <summary>Adds one node with a fresh output named after <paramref name="hint"/>; returns the output.</summary>
    public static string Node(ILoweringContext context, string opType, string hint, IReadOnlyList<string> inputs, IReadOnlyDictionary<string, object>? attributes = null)
    {
        string output = context.UniqueName(hint);
        context.AddNode(opType, inputs, [output], attributes);
        return output;
    }
}
