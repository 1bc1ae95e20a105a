using System.Reflection;
using Compressor.Engine.Training;
using Newtonsoft.Json;
using Newtonsoft.Json.Converters;
using Newtonsoft.Json.Serialization;

namespace Compressor.Host.Results;

/// <summary>The one place where the host's typed results become JSON (report.json, recipe.json, train.json, the demo's
/// report.json and every <c>--format json</c> output). Property names are the camelCase of the records' properties,
/// in declaration order (a base record's properties before a derived record's); enums are camelCase strings; a
/// property marked <see cref="NullValueHandling.Ignore"/> is left out when null, every other null is written. The
/// records hold the values as the files show them (rounded, non-finite numbers already null), so this serializer
/// adds nothing.
/// <para>Two engine records keep their .NET property names: <see cref="TrainingSettings"/> and
/// <see cref="EpochRecord"/>, which train.json (and the demo's <c>base.final</c>) have always written that way
/// (<c>"EvalAccuracy"</c>).</para></summary>
public static class ResultJson
{
    private static readonly HashSet<Type> VerbatimNames = [typeof(TrainingSettings), typeof(EpochRecord)];

    private static readonly JsonSerializerSettings Indented = Settings(Formatting.Indented);
    private static readonly JsonSerializerSettings Compact = Settings(Formatting.None);

    /// <summary><paramref name="value"/> as indented JSON (no trailing newline).</summary>
    public static string Serialize(object? value) => JsonConvert.SerializeObject(value, Indented);

    /// <summary><paramref name="value"/> as JSON on one line.</summary>
    public static string SerializeCompact(object? value) => JsonConvert.SerializeObject(value, Compact);

    /// <summary>Writes <paramref name="value"/> to <paramref name="path"/> atomically as indented JSON with a final newline.</summary>
    public static void WriteFile(string path, object value) => Engine.IO.AtomicFile.WriteAllText(path, Serialize(value) + "\n");

    private static JsonSerializerSettings Settings(Formatting formatting) => new()
    {
        Formatting = formatting,
        ContractResolver = new Resolver(),
        Converters = [new StringEnumConverter(new CamelCaseNamingStrategy())],
        DateParseHandling = DateParseHandling.None,
    };

    private sealed class Resolver : DefaultContractResolver
    {
        private static readonly CamelCaseNamingStrategy Camel = new() { ProcessDictionaryKeys = false, OverrideSpecifiedNames = false };

        protected override JsonProperty CreateProperty(MemberInfo member, MemberSerialization memberSerialization)
        {
            var property = base.CreateProperty(member, memberSerialization);
            bool named = member.GetCustomAttribute<JsonPropertyAttribute>()?.PropertyName is not null;
            if (!named && !VerbatimNames.Contains(member.DeclaringType!))
                property.PropertyName = Camel.GetPropertyName(member.Name, hasSpecifiedName: false);
            return property;
        }

        protected override IList<JsonProperty> CreateProperties(Type type, MemberSerialization memberSerialization) =>
            // Reflection lists a derived record's own properties first: write the base record's first.
            base.CreateProperties(type, memberSerialization).OrderBy(p => p.Order ?? -1).ThenBy(p => Depth(p.DeclaringType)).ToList();

        private static int Depth(Type? type)
        {
            int depth = 0;
            for (var t = type?.BaseType; t is not null; t = t.BaseType) depth++;
            return depth;
        }
    }
}
