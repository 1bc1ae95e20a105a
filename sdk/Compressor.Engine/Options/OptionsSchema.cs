using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Newtonsoft.Json.Linq;
using Compressor.Sdk.Options;

namespace Compressor.Engine.Options;

/// <summary>The schema of one options record type, read once by reflection from its <see cref="OptionAttribute"/>s.
/// It parses CLI tokens and recipe JSON into a validated record, writes records back to JSON, produces the
/// recipe step's JSON schema, and produces every validation message — so flags, recipes, help and errors agree.</summary>
public sealed class OptionsSchema
{
    private static readonly ConcurrentDictionary<Type, OptionsSchema> Cache = new();
    private readonly Dictionary<string, OptionDescriptor> _byKey;

    private OptionsSchema(Type type)
    {
        if (!typeof(PluginOptions).IsAssignableFrom(type) || type.IsAbstract)
            throw new ArgumentException($"{type.Name} must be a concrete record deriving from {nameof(PluginOptions)}.", nameof(type));
        if (type.GetConstructor(Type.EmptyTypes) is null)
            throw new ArgumentException($"{type.Name} needs a parameterless constructor (declare init properties with defaults).", nameof(type));
        Type = type;
        var defaults = (PluginOptions)Activator.CreateInstance(type)!;
        var list = new List<OptionDescriptor>();
        // Base-class options (include/exclude) last, the plugin's own first, in declaration order.
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .OrderBy(p => p.DeclaringType == typeof(PluginOptions) ? 1 : 0).ThenBy(p => p.MetadataToken))
        {
            var attr = p.GetCustomAttribute<OptionAttribute>(inherit: true);
            if (attr is null) continue;
            if (!p.CanWrite) throw new ArgumentException($"{type.Name}.{p.Name} is declared as an option but has no init/set accessor.");
            if (!IsSupported(p.PropertyType)) throw new ArgumentException($"{type.Name}.{p.Name}: option type {p.PropertyType.Name} is not supported.");
            list.Add(new OptionDescriptor(p, attr, p.GetValue(defaults)));
        }
        Options = list;
        _byKey = list.ToDictionary(o => Naming.Key(o.Property.Name));
        _byAlias = new Dictionary<string, OptionDescriptor>();
        foreach (var o in list)
            foreach (var alias in o.Aliases)
                if (!_byKey.ContainsKey(Naming.Key(alias)) && !_byAlias.TryAdd(Naming.Key(alias), o))
                    throw new ArgumentException($"{type.Name}: alias {alias} names two options.");
    }

    private readonly Dictionary<string, OptionDescriptor> _byAlias;

    /// <summary>The schema of <paramref name="optionsType"/>.</summary>
    public static OptionsSchema For(Type optionsType) => Cache.GetOrAdd(optionsType, t => new OptionsSchema(t));

    /// <summary>The options record type.</summary>
    public Type Type { get; }

    /// <summary>Every declared option, the plugin's own first.</summary>
    public IReadOnlyList<OptionDescriptor> Options { get; }

    /// <summary>A record holding every default.</summary>
    public PluginOptions Defaults() => (PluginOptions)Activator.CreateInstance(Type)!;

    /// <summary>Finds an option by flag (<c>--weight-bits</c>), JSON key (<c>weightBits</c>), property name or a former
    /// name (<see cref="OptionDescriptor.Aliases"/>).</summary>
    public OptionDescriptor? Find(string name) => _byKey.GetValueOrDefault(Naming.Key(name)) ?? _byAlias.GetValueOrDefault(Naming.Key(name));

    /// <summary>Whether <paramref name="name"/> is a former name of an option (what to write instead is its <see cref="OptionDescriptor.Flag"/>).</summary>
    public bool IsAlias(string name) => !_byKey.ContainsKey(Naming.Key(name)) && _byAlias.ContainsKey(Naming.Key(name));

    /// <summary>Parses command-line tokens (<c>--name value</c>, <c>--name=value</c>, a bare <c>--flag</c> for true)
    /// over the defaults, then validates.</summary>
    /// <exception cref="OptionsException">An unknown option, a malformed value or a failed check, in one line.</exception>
    /// <param name="tokens">The tokens.</param>
    /// <param name="owner">Who the options belong to, for messages (e.g. <c>plugin 'rtn'</c>).</param>
    /// <param name="notices">Receives one line per former option name used (what to write instead).</param>
    public PluginOptions ParseCli(IReadOnlyList<string> tokens, string owner, ICollection<string>? notices = null)
    {
        var options = Defaults();
        var lists = new Dictionary<OptionDescriptor, List<string>>();
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length <= 2)
                throw new OptionsException($"unexpected argument '{token}' for {owner} (options look like --name value)");
            string name = token;
            string? value = null;
            int eq = token.IndexOf('=');
            if (eq > 0) { name = token[..eq]; value = token[(eq + 1)..]; }
            var d = Find(name) ?? throw new OptionsException(UnknownMessage(name, owner));
            if (IsAlias(name)) notices?.Add(RenamedNotice(name, d, owner));
            if (value is null)
            {
                bool next = i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal);
                if (d.Type == typeof(bool) && !next) value = "true";
                else if (next) value = tokens[++i];
                else throw new OptionsException($"option {d.Flag} of {owner} needs a value ({Expect(d)})");
            }
            if (d.Type == typeof(string[]))
            {
                if (!lists.TryGetValue(d, out var l)) lists[d] = l = [];
                l.AddRange(SplitList(value));
            }
            else d.Property.SetValue(options, ParseText(d, value, owner));
        }
        foreach (var (d, l) in lists) d.Property.SetValue(options, l.ToArray());
        Validate(options, owner);
        return options;
    }

    /// <summary>Reads a recipe step's <c>options</c> object (keys in camelCase or kebab-case; former names accepted with
    /// a notice in <paramref name="notices"/>) over the defaults, then validates.</summary>
    public PluginOptions FromJson(JObject? json, string owner, ICollection<string>? notices = null)
    {
        var options = Defaults();
        var seen = new HashSet<OptionDescriptor>();
        if (json is not null)
        {
            foreach (var prop in json.Properties())
            {
                var d = Find(prop.Name) ?? throw new OptionsException(UnknownMessage(prop.Name, owner));
                if (IsAlias(prop.Name)) notices?.Add($"{owner}: option \"{prop.Name}\" is now \"{d.JsonName}\" (the old name is accepted until the next minor version)");
                if (seen.Contains(d)) throw new OptionsException($"option {d.JsonName} of {owner} is given twice (once under a former name)");
                seen.Add(d);
                d.Property.SetValue(options, ParseJson(d, prop.Value, owner));
            }
        }
        Validate(options, owner);
        return options;
    }

    /// <summary>Writes every option of <paramref name="options"/> (defaults included) as a JSON object with camelCase keys.</summary>
    public JObject ToJson(PluginOptions options)
    {
        var o = new JObject();
        foreach (var d in Options)
        {
            object? v = d.Property.GetValue(options);
            o[d.JsonName] = v switch
            {
                null => JValue.CreateNull(),
                Enum e => new JValue(Naming.ToKebab(e.ToString())),
                string[] a => new JArray(a),
                _ => JToken.FromObject(v),
            };
        }
        return o;
    }

    /// <summary>The JSON schema (draft 2020-12) of a recipe step's <c>options</c> object.</summary>
    public JObject JsonSchema()
    {
        var props = new JObject();
        foreach (var d in Options)
        {
            var p = new JObject { ["description"] = d.Description };
            switch (d.TypeName)
            {
                case "int": p["type"] = "integer"; break;
                case "number": p["type"] = "number"; break;
                case "bool": p["type"] = "boolean"; break;
                case "list": p["type"] = "array"; p["items"] = new JObject { ["type"] = "string" }; break;
                default: p["type"] = "string"; break;
            }
            if (!double.IsNaN(d.Attribute.Min)) p["minimum"] = d.Attribute.Min;
            if (!double.IsNaN(d.Attribute.Max)) p["maximum"] = d.Attribute.Max;
            if (d.Choices is { } choices)
                p["enum"] = new JArray(choices.Select(c => d.TypeName == "int" ? (JToken)long.Parse(c, CultureInfo.InvariantCulture)
                    : d.TypeName == "number" ? double.Parse(c, CultureInfo.InvariantCulture) : c));
            var def = ToJson(Defaults())[d.JsonName];
            if (def is not null) p["default"] = def;
            props[d.JsonName] = p;
        }
        return new JObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["type"] = "object",
            ["properties"] = props,
            ["additionalProperties"] = false,
        };
    }

    /// <summary>Checks ranges, choices and the record's own <see cref="PluginOptions.Validate"/>.</summary>
    /// <exception cref="OptionsException">The first problem, in one line naming the option and the allowed values.</exception>
    public void Validate(PluginOptions options, string owner)
    {
        foreach (var d in Options)
        {
            object? v = d.Property.GetValue(options);
            if (v is null && d.Type.IsValueType is false && d.Type != typeof(string))
                throw new OptionsException($"option {d.Flag} of {owner} must not be null");
            if (d.Choices is { } choices && v is not null && d.Type != typeof(string[]) && !choices.Contains(OptionDescriptor.Format(v), StringComparer.OrdinalIgnoreCase))
                throw new OptionsException($"option {d.Flag} of {owner}: '{OptionDescriptor.Format(v)}' is not allowed ({d.AllowedText})");
            if (v is IConvertible c && (d.TypeName is "int" or "number"))
            {
                double x = c.ToDouble(CultureInfo.InvariantCulture);
                if (double.IsNaN(x) || (!double.IsNaN(d.Attribute.Min) && x < d.Attribute.Min) || (!double.IsNaN(d.Attribute.Max) && x > d.Attribute.Max))
                    throw new OptionsException($"option {d.Flag} of {owner}: {OptionDescriptor.Format(v)} is out of range ({d.AllowedText})");
            }
        }
        foreach (string problem in options.Validate())
            throw new OptionsException($"{owner}: {problem}");
    }

    private static string RenamedNotice(string name, OptionDescriptor d, string owner) =>
        $"{owner}: option --{Naming.ToKebab(name.TrimStart('-')).TrimStart('-')} is now {d.Flag} (the old name is accepted until the next minor version)";

    private string UnknownMessage(string name, string owner)
    {
        string flag = name.StartsWith("--", StringComparison.Ordinal) ? name : "--" + Naming.ToKebab(name);
        var near = Suggestions.For(flag, Options.Select(o => o.Flag));
        return $"unknown option {flag} for {owner}" + (near.Count > 0
            ? $": did you mean {string.Join(" or ", near)}? (all: {string.Join(", ", Options.Select(o => o.Flag))})"
            : $" (known: {string.Join(", ", Options.Select(o => o.Flag))})");
    }

    private static string Expect(OptionDescriptor d) => d.AllowedText.Length > 0 ? d.AllowedText : d.TypeName;

    private static IEnumerable<string> SplitList(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static object ParseText(OptionDescriptor d, string text, string owner)
    {
        var t = d.Type;
        string bad = $"option {d.Flag} of {owner}: '{text}' is not a valid {d.TypeName}" + (d.AllowedText.Length > 0 ? $" ({d.AllowedText})" : "");
        if (t == typeof(string)) return text;
        if (t == typeof(int)) return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw new OptionsException(bad);
        if (t == typeof(long)) return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : throw new OptionsException(bad);
        if (t == typeof(double)) return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? x : throw new OptionsException(bad);
        if (t == typeof(float)) return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) && float.IsFinite(f) ? f : throw new OptionsException(bad);
        if (t == typeof(bool))
            return text.ToLowerInvariant() switch
            {
                "true" or "yes" or "1" or "on" => true,
                "false" or "no" or "0" or "off" => false,
                _ => throw new OptionsException(bad),
            };
        if (t == typeof(string[])) return SplitList(text).ToArray();
        if (t.IsEnum)
        {
            foreach (var n in Enum.GetNames(t))
                if (string.Equals(Naming.Key(n), Naming.Key(text), StringComparison.Ordinal)) return Enum.Parse(t, n);
            throw new OptionsException(bad);
        }
        throw new OptionsException(bad);
    }

    private static object? ParseJson(OptionDescriptor d, JToken token, string owner)
    {
        string bad = $"option {d.JsonName} of {owner}: {token.ToString(Newtonsoft.Json.Formatting.None)} is not a valid {d.TypeName}"
                     + (d.AllowedText.Length > 0 ? $" ({d.AllowedText})" : "");
        var t = d.Type;
        switch (token.Type)
        {
            case JTokenType.Array when t == typeof(string[]):
                return token.Select(x => x.Type == JTokenType.String ? (string)x! : throw new OptionsException(bad)).ToArray();
            case JTokenType.Integer when t == typeof(int) || t == typeof(long) || t == typeof(double) || t == typeof(float):
            case JTokenType.Float when t == typeof(double) || t == typeof(float):
                // A number beyond 64 bits is a BigInteger, which does not convert: out of range like any overflow.
                try { return Convert.ChangeType(((JValue)token).Value, t, CultureInfo.InvariantCulture); }
                catch (Exception e) when (e is OverflowException or InvalidCastException) { throw new OptionsException(bad); }
            case JTokenType.Float when (t == typeof(int) || t == typeof(long)):
                throw new OptionsException(bad);
            case JTokenType.Boolean when t == typeof(bool):
                return (bool)token;
            case JTokenType.String:
                try { return ParseText(d, (string)token!, owner); }
                catch (OptionsException) { throw new OptionsException(bad); }
            default:
                throw new OptionsException(bad);
        }
    }

    private static bool IsSupported(Type t) =>
        t == typeof(int) || t == typeof(long) || t == typeof(double) || t == typeof(float) || t == typeof(bool)
        || t == typeof(string) || t == typeof(string[]) || t.IsEnum;
}
