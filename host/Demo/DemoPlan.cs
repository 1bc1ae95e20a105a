using System.Reflection;
using Compressor.Sdk;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>The steps of <c>compress demo</c> for one model, read from <c>demo-steps.json</c> (embedded in the host,
/// or a file given with <c>--steps</c>): how to get the base model (train a built-in architecture, or a pretrained
/// one), the data spec, and the list of <see cref="DemoStep"/>s, each a recipe of plugin steps.</summary>
/// <param name="Model">The key under <c>models</c> (<c>vit</c>, <c>minilm</c>).</param>
/// <param name="Description">One line saying what the model is.</param>
/// <param name="Train">How to train the base model, or null for a pretrained one.</param>
/// <param name="Pretrained">The pretrained model's name (<c>minilm</c>), or null for a trained one.</param>
/// <param name="Data">The data spec; <c>{sentences}</c> stands for the demo's embedded sentence file.</param>
/// <param name="Steps">The compression steps, in order.</param>
public sealed record DemoPlan(string Model, string Description, DemoTraining? Train, string? Pretrained, string Data, IReadOnlyList<DemoStep> Steps)
{
    /// <summary>The embedded steps file's resource name.</summary>
    public const string Resource = "Compressor.Host.Demo.demo-steps.json";

    /// <summary>The placeholder in <see cref="Data"/> for the embedded sentences file.</summary>
    public const string SentencesPlaceholder = "{sentences}";

    /// <summary>The text of the embedded demo-steps.json.</summary>
    public static string EmbeddedJson()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream(Resource)
                      ?? throw new InvalidOperationException($"resource {Resource} is missing from the host assembly");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>Reads the plan of <paramref name="model"/> from <paramref name="path"/> (null: the embedded file).</summary>
    /// <exception cref="CompressException">Unreadable or malformed file, or no such model in it.</exception>
    public static DemoPlan Load(string? path, string model)
    {
        string source = path ?? "demo-steps.json (embedded)";
        string text;
        if (path is null) text = EmbeddedJson();
        else
        {
            try { text = File.ReadAllText(path); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CompressException(ErrorKind.InvalidInput, $"{path}: cannot read demo steps ({e.Message})");
            }
        }
        return Parse(text, source, model);
    }

    /// <summary>Parses a demo-steps document and picks <paramref name="model"/>.</summary>
    public static DemoPlan Parse(string json, string source, string model)
    {
        CompressException Bad(string what) => new(ErrorKind.InvalidInput, $"{source}: invalid demo steps: {what}");
        JObject root;
        try { root = JObject.Parse(json); }
        catch (JsonException e) { throw Bad($"not valid JSON ({e.Message.Split('\n')[0].Trim()})"); }
        if (root["models"] is not JObject models) throw Bad("no \"models\" object");
        if (models[model] is not JObject m)
            throw new CompressException(ErrorKind.InvalidOptions, $"--model {model}: no such demo model (choose from {string.Join(", ", models.Properties().Select(p => p.Name))})");
        DemoTraining? train = null;
        if (m["train"] is JObject t)
        {
            string? arch = (string?)t["architecture"];
            int epochs = t["epochs"]?.Type == JTokenType.Integer ? (int)t["epochs"]! : 0;
            int quick = t["quickEpochs"]?.Type == JTokenType.Integer ? (int)t["quickEpochs"]! : epochs;
            if (string.IsNullOrWhiteSpace(arch) || epochs < 1 || quick < 1) throw Bad($"model '{model}': \"train\" needs \"architecture\" and \"epochs\" ≥ 1");
            train = new DemoTraining(arch, epochs, quick);
        }
        string? pretrained = (string?)m["pretrained"];
        if ((train is null) == (pretrained is null)) throw Bad($"model '{model}' needs exactly one of \"train\" and \"pretrained\"");
        string? data = (string?)m["data"];
        if (string.IsNullOrWhiteSpace(data)) throw Bad($"model '{model}' has no \"data\"");
        if (m["steps"] is not JArray steps || steps.Count == 0) throw Bad($"model '{model}': \"steps\" must be a non-empty array");
        var list = new List<DemoStep>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (s, i) in steps.Select((s, i) => (s, i)))
        {
            string where = $"model '{model}' step {i + 1}";
            if (s is not JObject step) throw Bad($"{where} is not an object");
            string? name = (string?)step["name"];
            if (string.IsNullOrWhiteSpace(name) || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
                throw Bad($"{where}: \"name\" must be letters, digits, '-' or '_' (it names the step's output folder)");
            if (!names.Add(name)) throw Bad($"{where}: duplicate name '{name}'");
            if (step["recipe"] is not JArray recipe || recipe.Count == 0) throw Bad($"{where}: \"recipe\" must be a non-empty array of plugin steps");
            var plugins = new List<DemoPluginStep>();
            foreach (var r in recipe)
            {
                if (r is not JObject p || string.IsNullOrWhiteSpace((string?)p["plugin"])) throw Bad($"{where}: each recipe entry needs a \"plugin\"");
                if (p["options"] is { Type: not JTokenType.Object and not JTokenType.Null } || p["quickOptions"] is { Type: not JTokenType.Object and not JTokenType.Null })
                    throw Bad($"{where}: \"options\" and \"quickOptions\" must be objects");
                plugins.Add(new DemoPluginStep((string)p["plugin"]!, p["options"] as JObject ?? [], p["quickOptions"] as JObject));
            }
            list.Add(new DemoStep(name, (string?)step["title"] ?? name, plugins));
        }
        return new DemoPlan(model, (string?)m["description"] ?? model, train, pretrained, data, list);
    }
}
