using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Pipeline;

/// <summary>An ordered list of plugin steps with options, plus an optional seed — the JSON a user writes, and the
/// <c>recipe.json</c> a run writes beside its outputs (which can be run again as is).</summary>
/// <remarks>Format: <c>{"seed": 0, "steps": [{"plugin": "rtn", "options": {"weightBits": 4}}]}</c>, optionally
/// <c>"target"</c> and the <c>"preMerge"</c> decisions a run recorded. Other top-level fields (tool, input, …, as written
/// by a run) are ignored.</remarks>
public sealed record Recipe(int? Seed, IReadOnlyList<RecipeStep> Steps)
{
    /// <summary>The largest recipe file read.</summary>
    public const long MaxBytes = 4 << 20;
    /// <summary>The export target the recipe names (<c>"target": "size" | "speed"</c>), or null.</summary>
    public ExportTarget? Target { get; init; }

    /// <summary>The pre-merge decisions a run recorded (<c>"preMerge"</c>: <c>deployTokens</c> and <c>layers[]</c> with
    /// <c>name</c> and <c>merged</c>), or null.</summary>
    public Compressor.Host.Results.PreMergeReport? PreMerge { get; init; }

    /// <summary>Reads a recipe file.</summary>
    /// <exception cref="CompressException">Unreadable or malformed, in one line.</exception>
    public static Recipe Load(string path)
    {
        // Bounded, and only a regular file (a FIFO or a device is refused before it is opened).
        return Parse(Compressor.Engine.IO.InputFiles.ReadAllText(path, MaxBytes), path);
    }

    /// <summary>Parses recipe JSON.</summary>
    public static Recipe Parse(string json, string source)
    {
        CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{source}: invalid recipe: {what}");
        JObject o;
        try
        {
            // A key given twice (say, an option) is refused rather than silently taking the last value.
            o = Compressor.Engine.IO.StrictJson.Object(json, maxDepth: 32);
        }
        catch (JsonException e) { throw Bad($"not valid JSON ({e.Message.Split('\n')[0].Trim()})"); }
        int? seed = null;
        if (o["seed"] is { } s)
        {
            if (s is not JValue { Value: long v } || v < 0 || v > int.MaxValue) throw Bad("\"seed\" must be an integer in 0..2147483647");
            seed = (int)v;
        }
        ExportTarget? target = null;
        if (o["target"] is { Type: not JTokenType.Null } t)   // null (a recipe of a run without --target): the default
        {
            if (t.Type != JTokenType.String || !ExportTargets.TryParse((string)t!, out var parsed)) throw Bad("\"target\" must be \"size\" or \"speed\"");
            target = parsed;
        }
        var preMerge = o["preMerge"] is { Type: not JTokenType.Null } pm ? ParsePreMerge(pm, Bad) : null;
        if (o["steps"] is not JArray steps || steps.Count == 0) throw Bad("\"steps\" must be a non-empty array");
        var list = new List<RecipeStep>();
        for (int i = 0; i < steps.Count; i++)
        {
            if (steps[i] is not JObject step) throw Bad($"step {i + 1} is not an object");
            if (step["plugin"]?.Type != JTokenType.String || string.IsNullOrWhiteSpace((string?)step["plugin"])) throw Bad($"step {i + 1} has no \"plugin\"");
            var options = step["options"];
            if (options is not null && options.Type != JTokenType.Object && options.Type != JTokenType.Null) throw Bad($"step {i + 1}: \"options\" must be an object");
            foreach (var p in step.Properties())
                if (p.Name is not ("plugin" or "options" or "version")) throw Bad($"step {i + 1}: unknown field \"{p.Name}\"");
            list.Add(new RecipeStep((string)step["plugin"]!, options as JObject));
        }
        return new Recipe(seed, list) { Target = target, PreMerge = preMerge };
    }

    /// <summary>The recorded decisions: <c>{"deployTokens": N ≥ 1, "layers": [{"name": …, "merged": true|false, …}]}</c>
    /// (the other fields a run writes — kind, sizes, break-even — are kept when present, else 0 / empty).</summary>
    private static Compressor.Host.Results.PreMergeReport ParsePreMerge(JToken t, Func<string, CompressException> bad)
    {
        if (t is not JObject p) throw bad("\"preMerge\" must be an object or null");
        if (p["deployTokens"] is not JValue { Value: long n } || n < 1 || n > int.MaxValue) throw bad("\"preMerge.deployTokens\" must be an integer of at least 1");
        if (p["layers"] is not JArray layers) throw bad("\"preMerge.layers\" must be an array");
        var list = new List<Compressor.Host.Results.PreMergeLayer>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is not JObject l || l["name"] is not JValue { Type: JTokenType.String } name || string.IsNullOrEmpty((string?)name)
                || l["merged"] is not JValue { Type: JTokenType.Boolean } merged)
                throw bad($"preMerge layer {i + 1} needs a \"name\" and a boolean \"merged\"");
            if (!names.Add((string)name!)) throw bad($"preMerge names layer '{(string)name!}' twice");
            list.Add(new Compressor.Host.Results.PreMergeLayer((string)name!, (string?)(l["kind"] as JValue) ?? "",
                l["inFeatures"] is JValue { Value: long inF } ? inF : 0, l["outFeatures"] is JValue { Value: long outF } ? outF : 0,
                l["breakEvenTokens"] is JValue { Value: long be } && be is >= 0 and <= int.MaxValue ? (int)be : 0, (bool)merged!));
        }
        return new Compressor.Host.Results.PreMergeReport((int)n, list.Count(l => l.Merged), list);
    }
}
