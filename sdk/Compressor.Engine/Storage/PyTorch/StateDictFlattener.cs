using System.Globalization;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>Turns the object a checkpoint pickles into named tensors.
/// <list type="bullet">
/// <item>A dict that holds tensors directly is the state dict; nested dicts, lists and tuples inside it flatten to
/// dotted names (<c>{"encoder": {"w": t}}</c> → <c>encoder.w</c>, <c>{"ws": [t0, t1]}</c> → <c>ws.0</c>, <c>ws.1</c>).</item>
/// <item>A dict that holds no tensor directly but wraps the state dict under a well-known key
/// (<see cref="WrapperKeys"/>, first match wins: <c>{"state_dict": …}</c>, <c>{"model": …, "epoch": 3}</c>) is
/// unwrapped: names are relative to the wrapped dict, the key is reported as metadata <c>pytorch.root</c>, and the
/// wrapper's other numbers and strings as metadata <c>pytorch.KEY</c>.</item>
/// <item>Otherwise every tensor of the object is named by its dotted path from the top.</item>
/// <item>A lone tensor is named <c>tensor</c>. Values that are not tensors (numbers, strings, None) are skipped.</item>
/// </list></summary>
internal static class StateDictFlattener
{
    /// <summary>The keys under which training scripts commonly nest the state dict, in the order they are tried.</summary>
    public static readonly string[] WrapperKeys = ["state_dict", "model_state_dict", "model", "module", "net", "network", "weights"];

    private const int MaxDepth = 64;

    /// <summary>Named tensors and metadata of <paramref name="root"/>; <paramref name="source"/> names the file in errors.</summary>
    public static (List<(string Name, TensorRef Tensor)> Tensors, Dictionary<string, string> Metadata) Flatten(object? root, string source)
    {
        var tensors = new List<(string, TensorRef)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);

        void Walk(object? value, string prefix, int depth)
        {
            if (depth > MaxDepth) throw new CompressException(ErrorKind.InvalidInput, $"{source}: containers nested more than {MaxDepth} levels deep");
            if (value is TensorRef t)
            {
                string name = prefix.Length == 0 ? "tensor" : prefix;
                if (!names.Add(name)) throw new CompressException(ErrorKind.InvalidInput, $"{source}: two tensors flatten to the name '{RestrictedUnpickler.Printable(name)}'");
                tensors.Add((name, t));
                return;
            }
            IEnumerable<(string Key, object? Value)>? children = value switch
            {
                PickleDict d => d.Items.Select(kv => (KeyText(kv.Key), kv.Value)),
                List<object?> l => l.Select((v, i) => (i.ToString(CultureInfo.InvariantCulture), v)),
                PickleTuple tu => tu.Items.Select((v, i) => (i.ToString(CultureInfo.InvariantCulture), v)),
                _ => null,
            };
            if (children is null || !visited.Add(value!)) return;
            foreach (var (key, child) in children) Walk(child, prefix.Length == 0 ? key : prefix + "." + key, depth + 1);
        }

        if (root is PickleDict top && !top.Items.Any(kv => kv.Value is TensorRef))
        {
            foreach (var wrapper in WrapperKeys)
            {
                var inner = top.Items.FirstOrDefault(kv => kv.Key is string k && k == wrapper).Value;
                if (inner is not PickleDict innerDict || !ContainsTensor(innerDict, new HashSet<object>(ReferenceEqualityComparer.Instance), 0)) continue;
                metadata["pytorch.root"] = wrapper;
                foreach (var (k, v) in top.Items)
                    if (v is string or long or double or bool && KeyText(k) != wrapper)
                        metadata["pytorch." + KeyText(k)] = Convert.ToString(v, CultureInfo.InvariantCulture)!;
                Walk(innerDict, "", 0);
                return (tensors, metadata);
            }
        }
        Walk(root, "", 0);
        return (tensors, metadata);
    }

    private static bool ContainsTensor(object? value, HashSet<object> seen, int depth) => depth <= MaxDepth && value switch
    {
        TensorRef => true,
        PickleDict d => seen.Add(d) && d.Items.Any(kv => ContainsTensor(kv.Value, seen, depth + 1)),
        List<object?> l => seen.Add(l) && l.Any(v => ContainsTensor(v, seen, depth + 1)),
        PickleTuple t => seen.Add(t) && t.Items.Any(v => ContainsTensor(v, seen, depth + 1)),
        _ => false,
    };

    private static string KeyText(object key) => key switch
    {
        string s => s,
        bool b => b ? "True" : "False",
        _ => Convert.ToString(key, CultureInfo.InvariantCulture)!,
    };
}
