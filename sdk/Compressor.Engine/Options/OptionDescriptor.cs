using System.Reflection;
using Compressor.Sdk.Options;

namespace Compressor.Engine.Options;

/// <summary>One option of an options record, as described by its property and <see cref="OptionAttribute"/>.</summary>
public sealed class OptionDescriptor
{
    internal OptionDescriptor(PropertyInfo property, OptionAttribute attribute, object? defaultValue)
    {
        Property = property;
        Attribute = attribute;
        DefaultValue = defaultValue;
        Flag = "--" + Naming.ToKebab(property.Name);
        JsonName = Naming.ToCamel(property.Name);
    }

    /// <summary>Former names, as flags (<c>--lr</c>): accepted, with a notice, and hidden from help
    /// (<see cref="OptionAttribute.Aliases"/>).</summary>
    public IReadOnlyList<string> Aliases => (Attribute.Aliases ?? []).Select(a => "--" + Naming.ToKebab(a.TrimStart('-'))).ToList();

    /// <summary>The layer types this switch adds to the plugin's selection (<see cref="OptionAttribute.Enables"/>).</summary>
    public Compressor.Sdk.Models.LayerType Enables => Attribute.Enables;

    /// <summary>The record property.</summary>
    public PropertyInfo Property { get; }

    /// <summary>The declaration.</summary>
    public OptionAttribute Attribute { get; }

    /// <summary>The CLI flag, e.g. <c>--weight-bits</c>.</summary>
    public string Flag { get; }

    /// <summary>The key in a recipe step's <c>options</c> object, e.g. <c>weightBits</c>.</summary>
    public string JsonName { get; }

    /// <summary>The value a fresh options record has.</summary>
    public object? DefaultValue { get; }

    /// <summary>The property type.</summary>
    public Type Type => Property.PropertyType;

    /// <summary>The description.</summary>
    public string Description => Attribute.Description;

    /// <summary>A short type name for help: int, number, bool, string, list, or the enum's choices.</summary>
    public string TypeName => Type switch
    {
        var t when t == typeof(int) || t == typeof(long) => "int",
        var t when t == typeof(double) || t == typeof(float) => "number",
        var t when t == typeof(bool) => "bool",
        var t when t == typeof(string) => "string",
        var t when t == typeof(string[]) => "list",
        var t when t.IsEnum => "choice",
        _ => Type.Name,
    };

    /// <summary>The allowed values as written on the command line, if restricted.</summary>
    public IReadOnlyList<string>? Choices =>
        Attribute.Choices ?? (Type.IsEnum ? Enum.GetNames(Type).Select(Naming.ToKebab).ToArray() : null);

    /// <summary>The allowed range or choices, in words, for messages and help (empty when unrestricted).</summary>
    public string AllowedText
    {
        get
        {
            if (Choices is { } c) return "one of " + string.Join(", ", c);
            bool hasMin = !double.IsNaN(Attribute.Min), hasMax = !double.IsNaN(Attribute.Max);
            if (hasMin && hasMax) return $"{Format(Attribute.Min)}..{Format(Attribute.Max)}";
            if (hasMin) return $">= {Format(Attribute.Min)}";
            if (hasMax) return $"<= {Format(Attribute.Max)}";
            return "";
        }
    }

    /// <summary>Formats a value as it is written on the command line.</summary>
    public static string Format(object? value) => value switch
    {
        null => "",
        string[] a => string.Join(",", a),
        bool b => b ? "true" : "false",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        Enum e => Naming.ToKebab(e.ToString()),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
