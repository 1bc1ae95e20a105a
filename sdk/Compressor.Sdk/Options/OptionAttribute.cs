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
}
