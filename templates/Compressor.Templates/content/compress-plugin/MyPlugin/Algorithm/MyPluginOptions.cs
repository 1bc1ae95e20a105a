using Compressor.Sdk.Options;

namespace MyPlugin.Algorithm;

/// <summary>Options of the <c>my-plugin</c> plugin. Each property is a <c>--kebab-case</c> flag on the command line
/// and a camelCase key in recipes; <see cref="OptionAttribute"/> gives its help text and range.</summary>
public sealed record MyPluginOptions : PluginOptions
{
    /// <summary>Bits per weight code.</summary>
    [Option("Bits per weight code (symmetric signed codes, one scale per output channel).", Choices = ["2", "4", "8"])]
    public int WeightBits { get; init; } = 8;
}
