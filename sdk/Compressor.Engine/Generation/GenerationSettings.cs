using Compressor.Engine.IO;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Generation;

/// <summary>What a model folder says about generating: the end-of-sequence ids (<c>eos_token_id</c>, one id or a list,
/// from <c>generation_config.json</c>, else <c>config.json</c>: where transformers and transformers.js look) and the
/// longest sequence (<c>max_position_embeddings</c>, GPT-2's <c>n_positions</c> / <c>n_ctx</c>).</summary>
/// <param name="StopTokens">The end-of-sequence ids (empty when neither file names one).</param>
/// <param name="MaxLength">The longest sequence, or null when the config does not say.</param>
public sealed record GenerationSettings(IReadOnlySet<int> StopTokens, long? MaxLength)
{
    /// <summary>The largest settings file read.</summary>
    public const long MaxBytes = 4L << 20;

    /// <summary>Reads the settings of <paramref name="folder"/> (files that are absent count as empty).</summary>
    /// <exception cref="CompressException">A settings file that is not a JSON object or holds a malformed
    /// <c>eos_token_id</c> (kind InvalidInput).</exception>
    public static GenerationSettings Load(string folder)
    {
        var generation = Read(Path.Combine(folder, "generation_config.json"));
        var config = Read(Path.Combine(folder, "config.json"));
        var stop = new HashSet<int>();
        foreach (var (file, json) in new[] { ("generation_config.json", generation), ("config.json", config) })
        {
            if (json?["eos_token_id"] is not { Type: not JTokenType.Null } eos) continue;
            var ids = eos is JArray a ? a.ToList() : [eos];
            if (ids.Any(t => t.Type != JTokenType.Integer || (long)t < 0 || (long)t > int.MaxValue))
                throw new CompressException(ErrorKind.InvalidInput, $"{Path.Combine(folder, file)}: 'eos_token_id' must be a token id or a list of them");
            stop.UnionWith(ids.Select(t => (int)t));
            break;
        }
        long? max = null;
        foreach (var key in new[] { "max_position_embeddings", "n_positions", "n_ctx" })
            if (config?[key] is { Type: JTokenType.Integer } v && (long)v > 0)
            {
                max = (long)v;
                break;
            }
        return new GenerationSettings(stop, max);
    }

    private static JObject? Read(string path)
    {
        if (!File.Exists(path)) return null;
        try { return StrictJson.Object(InputFiles.ReadAllText(path, MaxBytes)); }
        catch (JsonException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a valid JSON object ({e.Message.Split('\n')[0].Trim()})");
        }
    }
}
