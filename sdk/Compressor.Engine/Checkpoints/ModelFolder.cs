using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Checkpoints;

/// <summary>A Hugging Face (or timm) model folder: <c>config.json</c> decides the architecture and its sizes
/// (<see cref="HuggingFaceConfig"/>; a timm config takes its sizes from the tensors, <see cref="ShapeInference"/>), the
/// weights are the first of <c>model.safetensors</c>, <c>model.safetensors.index.json</c> (shards),
/// <c>pytorch_model.bin</c>, <c>pytorch_model.bin.index.json</c>, in float32, float16 or bfloat16 (loaded as float32),
/// and the files a deployed folder carries along (tokenizer, generation and preprocessing configs) are listed in
/// <see cref="CompanionFiles"/>.</summary>
public sealed class ModelFolder
{
    /// <summary>The config's file name.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>The weight files looked for, in order of preference.</summary>
    public static readonly IReadOnlyList<string> WeightFiles =
        ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>The files copied into a deployable output folder when present (tokenizers, generation and
    /// preprocessing settings), as Hugging Face loaders expect them beside <c>config.json</c>.</summary>
    public static readonly IReadOnlyList<string> CompanionFileNames =
    [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt",
        "tokenizer.model", "added_tokens.json", "generation_config.json", "preprocessor_config.json",
        "sentence_bert_config.json", "modules.json", "config_sentence_transformers.json",
    ];

    private ModelFolder(string directory, string configPath, JObject config, string weightsPath, ArchitectureSpec spec, string family)
    {
        Directory = directory;
        ConfigPath = configPath;
        Config = config;
        WeightsPath = weightsPath;
        Spec = spec;
        Family = family;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary>Its <c>config.json</c>.</summary>
    public string ConfigPath { get; }

    /// <summary>The parsed config.</summary>
    public JObject Config { get; }

    /// <summary>The weights file (or shard index).</summary>
    public string WeightsPath { get; }

    /// <summary>The architecture and its complete config.</summary>
    public ArchitectureSpec Spec { get; }

    /// <summary>The config's <c>model_type</c>, or <c>timm</c>.</summary>
    public string Family { get; }

    /// <summary>The companion files present in the folder (full paths).</summary>
    public IReadOnlyList<string> CompanionFiles =>
        CompanionFileNames.Select(n => Path.Combine(Directory, n)).Where(IsRegularFile).ToList();

    /// <summary>Whether <paramref name="path"/> (links followed) is a regular file: a FIFO or a device under a companion
    /// file's name is not copied (it would block or never end).</summary>
    private static bool IsRegularFile(string path) => IO.FileType.Of(path) == IO.FileTypeKind.Regular;

    /// <summary>Whether <paramref name="path"/> is a folder (a model folder to open with <see cref="Open"/>).</summary>
    public static bool IsFolder(string path) => System.IO.Directory.Exists(path);

    /// <summary>Opens the folder: reads the config, finds the weights and builds the spec (reading the weights' header
    /// only, for what the config leaves to the tensors).</summary>
    /// <param name="directory">The folder.</param>
    /// <param name="heads">Attention heads for a timm ViT/DeiT (<c>--heads</c>), or null.</param>
    /// <exception cref="CompressException">No config, no weights, an unknown model type or bad keys: one line naming
    /// the file and the key (kind InvalidInput).</exception>
    public static ModelFolder Open(string directory, int? heads = null)
    {
        string dir = Path.GetFullPath(directory);
        string config = Path.Combine(dir, ConfigFile);
        string? weights = WeightFiles.Select(n => Path.Combine(dir, n)).FirstOrDefault(File.Exists);   // checked as a regular file when opened
        if (!File.Exists(config))
            throw new CompressException(ErrorKind.InvalidInput, $"{dir}: not a model folder: no {ConfigFile}" +
                (weights is null ? $" and no weights ({string.Join(", ", WeightFiles)})" : $" beside {Path.GetFileName(weights)} (pass the weights file itself to infer sizes from its tensors)"));
        if (weights is null)
            throw new CompressException(ErrorKind.InvalidInput, $"{dir}: no weights in the model folder (looked for {string.Join(", ", WeightFiles)})");
        var json = HuggingFaceConfig.Read(config);
        using var reader = CheckpointFormats.Open(weights);
        var names = reader.Tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        if (HuggingFaceConfig.IsTimm(json))
        {
            var spec = ShapeInference.Infer("vit", reader.Tensors, heads ?? TimmHeads((string)json["architecture"]!), weights)
                       ?? throw new InvalidOperationException("unreachable");
            if (json["num_classes"] is { Type: JTokenType.Integer } classes && (long)classes != (long)spec.Config["classes"]!)
                throw new CompressException(ErrorKind.InvalidInput, $"{config}: 'num_classes' {(long)classes} disagrees with {Path.GetFileName(weights)}'s head of {spec.Config["classes"]} classes");
            return new ModelFolder(dir, config, json, weights, spec, "timm");
        }
        var s = HuggingFaceConfig.ToSpec(json, config, names.Contains);
        return new ModelFolder(dir, config, json, weights, s, (string)json["model_type"]!);
    }

    /// <summary>The heads of a timm model name's size (tiny 3, small 6, base 12, large 16, huge 16), or null.</summary>
    private static int? TimmHeads(string architecture)
    {
        foreach (var (size, h) in new[] { ("_tiny_", 3), ("_small_", 6), ("_base_", 12), ("_large_", 16), ("_huge_", 16) })
            if (architecture.Contains(size, StringComparison.Ordinal)) return h;
        return null;
    }
}
