using System.Text;

namespace Compressor.Engine.Onnx.Import;

/// <summary>How an imported ONNX graph names its replaceable layers and weight buffers, so that they are addressable
/// by dotted names like the parameters of a PyTorch module.
/// <list type="number">
/// <item>A layer is named after the initializer that holds its weight, without a trailing <c>.weight</c>; a MatMul
/// whose output only feeds an Add of a constant bias is fused with that Add into one linear layer named after the
/// bias without its trailing <c>.bias</c> (PyTorch exports transpose linear weights into anonymous initializers such
/// as <c>onnx::MatMul_927</c> but keep bias names such as <c>encoder.layer.0.attention.self.query.bias</c>).</item>
/// <item>Every other initializer becomes a buffer under its own name.</item>
/// <item>Names are split at dots; in each part every character other than an ASCII letter, digit or underscore
/// becomes <c>_</c>, and empty parts are dropped (<c>onnx::MatMul_927</c> → <c>onnx__MatMul_927</c>; a name with
/// no part left becomes <c>_</c>).</item>
/// <item>Clashes are resolved in graph order by appending <c>_1</c>, <c>_2</c>, … to the clashing part: a name
/// already taken, or a prefix that is already a layer or a buffer.</item>
/// </list>
/// The layer of each initializer is listed by <see cref="OnnxModule.LayerOfInitializer"/>.</summary>
public static class OnnxLayerNaming
{
    /// <summary>The dotted, addressable form of an ONNX value name (rule 3).</summary>
    public static string Sanitize(string name)
    {
        var parts = new List<string>();
        foreach (var raw in name.Split('.'))
        {
            if (raw.Length == 0) continue;
            var sb = new StringBuilder(raw.Length);
            foreach (char c in raw) sb.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
            parts.Add(sb.ToString());
        }
        return parts.Count == 0 ? "_" : string.Join('.', parts);
    }

    /// <summary>The layer name derived from the initializer <paramref name="initializer"/> (rules 1 and 3).</summary>
    public static string LayerName(string initializer, string suffix = ".weight")
    {
        string s = Sanitize(initializer);
        string suffixPart = suffix.TrimStart('.');
        return s.EndsWith("." + suffixPart, StringComparison.Ordinal) ? s[..^(suffixPart.Length + 1)] : s;
    }
}
