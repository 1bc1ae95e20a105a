using Compressor.Engine.Onnx.Export;
using static TorchSharp.torch;
using Compressor.Sdk.Models;

namespace Compressor.Engine.Architectures;

/// <summary>An ordered list of replaceable children named "0", "1", … (as PyTorch's <c>nn.ModuleList</c>), whose
/// forward applies them in order. Exports to ONNX as its children's graphs chained in order.</summary>
public sealed class LayerList : LayerContainer, IOnnxExportable
{
    /// <summary>Creates the list.</summary>
    public LayerList(IEnumerable<nn.Module> modules) : base(nameof(LayerList))
    {
        int i = 0;
        foreach (var m in modules) register_module((i++).ToString(System.Globalization.CultureInfo.InvariantCulture), m);
        Count = i;
    }

    /// <summary>The number of children.</summary>
    public int Count { get; }

    /// <summary>The i-th child as a tensor-to-tensor module.</summary>
    public nn.Module<Tensor, Tensor> this[int index] => Child(index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var x = input;
        for (int i = 0; i < Count; i++)
        {
            var y = this[i].forward(x);
            if (!ReferenceEquals(x, input)) x.Dispose();
            x = y;
        }
        return ReferenceEquals(x, input) ? input.alias() : x;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var x = inputs;
        for (int i = 0; i < Count; i++) x = context.EmitChild(i.ToString(System.Globalization.CultureInfo.InvariantCulture), x);
        return x;
    }
}
