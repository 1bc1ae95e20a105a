using Compressor.Host.Results;
using Compressor.Sdk.Data;

namespace Compressor.Host.Pipeline;

/// <summary>What <c>compress train</c> wrote.</summary>
/// <param name="OutputDirectory">The output folder.</param>
/// <param name="Files">The files moved into it (model.safetensors, train.json).</param>
/// <param name="Report">train.json.</param>
/// <param name="DataKind">The kind of the data it trained on (images are scored by accuracy, tokens by perplexity).</param>
public sealed record TrainResult(string OutputDirectory, IReadOnlyList<string> Files, TrainReport Report, DataKind DataKind)
{
    /// <summary>The model file's name.</summary>
    public const string ModelFile = "model.safetensors";

    /// <summary>The summary's file name.</summary>
    public const string ReportFile = "train.json";

    /// <summary>The trained model's path.</summary>
    public string ModelPath => Path.Combine(OutputDirectory, ModelFile);
}
