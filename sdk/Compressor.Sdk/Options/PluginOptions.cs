namespace Compressor.Sdk.Options;

/// <summary>Base of every plugin's options record. Derive a <c>sealed record</c> with <c>init</c> properties, each
/// with a default value and an <see cref="OptionAttribute"/>. Layer selection is common to all plugins.</summary>
public abstract record PluginOptions
{
    /// <summary>Layers to include, as name globs (<c>*</c> any run of characters, <c>?</c> one); empty: all layers of the kinds the plugin targets.</summary>
    [Option("Layer names to include, as globs (comma-separated; '*' matches any run, '?' one character). Empty: every layer of the kinds the plugin targets.")]
    public string[] Include { get; init; } = [];

    /// <summary>Layers to exclude, as name globs; applied after <see cref="Include"/>.</summary>
    [Option("Layer names to exclude, as globs (comma-separated); applied after --include.")]
    public string[] Exclude { get; init; } = [];

    /// <summary>Cross-field checks that attributes cannot express. Return one message per problem, each naming
    /// the option(s) in kebab-case flag form.</summary>
    public virtual IEnumerable<string> Validate() => [];

    /// <summary>Why these options cannot run one transformer block at a time although the plugin's manifest declares
    /// <c>"streaming": "block"</c> (a mode that trains the whole model, or decides across all layers at once), or null
    /// when they can. The host then refuses <c>--stream on</c> with this reason and does not stream under
    /// <c>auto</c>. Name the option(s) in kebab-case flag form.</summary>
    public virtual string? NotStreamableReason() => null;
}
