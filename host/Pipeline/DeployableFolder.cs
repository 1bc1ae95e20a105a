using Compressor.Engine.Checkpoints;
using Compressor.Sdk;

namespace Compressor.Host.Pipeline;

/// <summary>The output of a run on a Hugging Face or timm model folder, laid out as the ecosystem's loaders expect
/// (transformers.js, Optimum's ONNX Runtime models): <c>config.json</c> and the tokenizer / generation /
/// preprocessing files copied unchanged from the input folder, the exported graph as <c>onnx/model.onnx</c> (with
/// <c>onnx/model.onnx.data</c> beside it when the tensors exceed 2 GB), and the compressed checkpoint, recipe and
/// report beside them.</summary>
public static class DeployableFolder
{
    /// <summary>Where the graph goes, relative to the output folder.</summary>
    public static readonly string OnnxFile = Path.Combine("onnx", OnnxStage.FileName);

    /// <summary>The largest companion file copied (a tokenizer.json of a large vocabulary is tens of MiB).</summary>
    public const long MaxCompanionBytes = 256L << 20;

    /// <summary>Copies <paramref name="folder"/>'s config and companion files into <paramref name="staging"/>.</summary>
    /// <exception cref="CompressException">A file that cannot be read or written (kind OutputFailed).</exception>
    public static void CopyCompanions(ModelFolder folder, string staging)
    {
        foreach (var file in new[] { folder.ConfigPath }.Concat(folder.CompanionFiles))
        {
            // Read as an input file (a regular file, bounded), written as an output one.
            byte[] bytes = Compressor.Engine.IO.InputFiles.ReadAllBytes(file, MaxCompanionBytes);
            try { File.WriteAllBytes(Path.Combine(staging, Path.GetFileName(file)), bytes); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CompressException(ErrorKind.OutputFailed, $"cannot copy {file} into the output folder: {e.Message}");
            }
        }
    }
}
