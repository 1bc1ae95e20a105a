using Compressor.Sdk;

namespace Compressor.Host.Pipeline;

/// <summary>The spellings of <see cref="StreamMode"/> on the command line.</summary>
public static class StreamModes
{
    /// <summary>The accepted values.</summary>
    public static readonly IReadOnlyList<string> Names = ["auto", "on", "off"];

    /// <summary>The help text of <c>--stream</c>.</summary>
    public const string Help = "Hold one transformer block at a time (decoders: gpt, llama; plugins whose plugin.json declares \"streaming\": \"block\", such as rtn and gptq): " +
                               "auto (default: when the whole model does not fit --max-memory), on, off. Each finished block is a resume point in the work folder.";

    /// <summary>Parses a value (null: auto).</summary>
    /// <exception cref="CompressException">Not one of <see cref="Names"/> (kind InvalidOptions).</exception>
    public static StreamMode Parse(string? value) => value?.ToLowerInvariant() switch
    {
        null or "auto" => StreamMode.Auto,
        "on" => StreamMode.On,
        "off" => StreamMode.Off,
        _ => throw new CompressException(ErrorKind.InvalidOptions, $"--stream '{value}' is not one of {string.Join(", ", Names)}"),
    };
}
