using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Tests;

/// <summary>The field paths of a JSON document in the order they first appear (<c>output.onnx.file</c>,
/// <c>steps[].plugin</c>; array elements merged), as Golden/fields.py lists them: the values of open-ended maps and
/// plugin-defined objects are not listed. The golden lists in Golden/*.fields were made by that script from the output
/// of the tool before the SDK 2.0 redesign (commit c7f510b).</summary>
public static class JsonFields
{
    private static readonly HashSet<string> Opaque = ["options", "config", "fusedKernelCounts", "timings", "series", "metadata", "recipeSchema", "kernels"];
    private static readonly HashSet<string> Maps = ["metrics", "reference"];

    /// <summary>The field paths of <paramref name="json"/>.</summary>
    public static List<string> Of(string json)
    {
        JToken root;
        using (var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None }) root = JToken.Load(reader);
        var fields = new List<string>();
        Walk(root, "", fields);
        return fields;
    }

    /// <summary>Asserts that <paramref name="json"/> has exactly the fields of golden list <paramref name="golden"/>, in
    /// the same order, besides the <paramref name="added"/> ones (fields added within the schema version).</summary>
    public static void AssertMatchGolden(string golden, string json, params string[] added)
    {
        var expected = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Golden", golden)).Where(l => l.Length > 0).ToList();
        var actual = Of(json);
        foreach (var a in added) Assert.True(actual.Contains(a), $"{golden}: the added field {a} is missing");
        var kept = actual.Where(f => !added.Contains(f)).ToList();
        Assert.True(expected.SequenceEqual(kept),
            $"{golden}: fields differ from the pre-redesign tool's. Missing: [{string.Join(", ", expected.Except(kept))}]; " +
            $"new: [{string.Join(", ", kept.Except(expected))}]; order: {string.Join(" ", kept)}");
    }

    private static void Walk(JToken value, string path, List<string> fields)
    {
        if (value is JObject o)
        {
            foreach (var p in o.Properties())
            {
                string f = path.Length == 0 ? p.Name : path + "." + p.Name;
                if (!fields.Contains(f)) fields.Add(f);
                if (Opaque.Contains(p.Name) || (Maps.Contains(p.Name) && p.Value is JObject)) continue;
                Walk(p.Value, f, fields);
            }
        }
        else if (value is JArray a)
        {
            foreach (var v in a) Walk(v, path + "[]", fields);
        }
    }
}
