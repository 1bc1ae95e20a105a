namespace Compressor.Engine.Onnx.Import;

/// <summary>Claims unique dotted names for layers and buffers, resolving clashes as <see cref="OnnxLayerNaming"/>
/// documents.</summary>
internal sealed class NameTree
{
    private readonly Dictionary<string, NameTree> _children = new(StringComparer.Ordinal);
    private bool _isLeaf;

    /// <summary>Claims <paramref name="dotted"/> (or the nearest free variant) as a leaf and returns the name claimed.</summary>
    public string Claim(string dotted)
    {
        var parts = dotted.Split('.');
        var node = this;
        var result = new List<string>(parts.Length);
        for (int k = 0; k < parts.Length; k++)
        {
            bool last = k == parts.Length - 1;
            string seg = parts[k], s = seg;
            for (int c = 1; node._children.TryGetValue(s, out var existing) && (last || existing._isLeaf); c++)
                s = seg + "_" + c.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!node._children.TryGetValue(s, out var child))
            {
                child = new NameTree { _isLeaf = last };
                node._children[s] = child;
            }
            result.Add(s);
            node = child;
        }
        return string.Join('.', result);
    }
}
