namespace Compressor.Sdk.Options;

/// <summary>Declares a plugin option: put it on each settable property of an options record. The same declaration
/// drives the CLI flag (kebab-case of the property name), the recipe JSON schema, <c>--help</c>/<c>describe</c> text
/// and validation messages.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class OptionAttribute : Attribute
{
    /// <summary>Declares an option with its one-sentence description.</summary>
    public OptionAttribute(string description) => Description = description;

    /// <summary>What the option does, shown in help.</summary>
    public string Description { get; }

    /// <summary>Inclusive lower bound for numeric options (NaN: none).</summary>
    public double Min { get; init; } = double.NaN;

    /// <summary>Inclusive upper bound for numeric options (NaN: none).</summary>
    public double Max { get; init; } = double.NaN;

    /// <summary>The allowed values, written as they appear on the command line (null: any value of the type).</summary>
    public string[]? Choices { get; init; }

    /// <summary>Former names of the option (property-style, e.g. <c>"Lr"</c>, or as a flag, <c>"lr"</c>): still
    /// accepted on the command line and in recipes, with a warning naming the current flag, and hidden from help and
    /// the recipe schema. A renamed option keeps its old name here for one minor version.</summary>
    public string[]? Aliases { get; init; }

    /// <summary>For a <see cref="bool"/> option that widens the plugin's selection: the layer types it adds (e.g. an
    /// <c>--embeddings</c> switch adds <see cref="Models.LayerType.Embedding"/>). The host names the option when a
    /// layer of those types was left uncompressed.</summary>
    public Models.LayerType Enables { get; init; }
}
