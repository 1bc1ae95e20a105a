using Compressor.Engine.Onnx.Export;
using Compressor.Host.Results;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;

namespace Compressor.Host.Pipeline;

/// <summary>The one size accounting of a (compressed) model, shared by the checkpoint's and the ONNX model's rows of a
/// report: how many weights the compressed layers replace, the storage bits their representations need (codes,
/// scales, zero points, codebooks, factors; never the bias), and the bytes of everything else, which stays in float.
/// <list type="bullet">
/// <item>checkpoint: theoretical bytes = ⌈all storage bits / 8⌉ + every other tensor (compressed layers' biases
/// included); bits per weight = storage bits / weights;</item>
/// <item>ONNX: theoretical bytes = what theory says the compressed layers' initializers need (their weight, each layer
/// rounded up to whole bytes, plus their float bias) + every other initializer; bits per weight = the compressed
/// layers' initializer bytes less their biases, × 8 / weights.</item>
/// </list></summary>
/// <param name="CompressedWeights">Weights replaced by compressed layers (elements of their dense weights).</param>
/// <param name="StorageBits">The compressed layers' storage bits, summed.</param>
/// <param name="StorageBytesPerLayer">Each compressed layer's storage bits rounded up to bytes, summed (the ONNX file
/// stores each layer's tensors whole).</param>
/// <param name="OtherTensorBytes">Bytes of every tensor that is not part of a compressed representation (the
/// compressed layers' biases included).</param>
public sealed record SizeAccounting(long CompressedWeights, long StorageBits, long StorageBytesPerLayer, long OtherTensorBytes)
{
    /// <summary>Counts <paramref name="model"/>'s tensors once.</summary>
    public static SizeAccounting Of(CompressibleModel model)
    {
        long weights = 0, bits = 0, layerBytes = 0;
        var compressed = new List<string>();
        foreach (var (name, layer) in model.CompressedLayers())
        {
            weights += layer.DenseWeightShape.Aggregate(1L, (a, b) => a * b);
            bits += layer.WeightStorageBits;
            layerBytes += (layer.WeightStorageBits + 7) / 8;
            compressed.Add(name + ".");
        }
        long other = 0;
        foreach (var (name, t) in model.NamedTensors())
        {
            bool inCompressed = compressed.Any(p => name.StartsWith(p, StringComparison.Ordinal));
            if (inCompressed && !name.EndsWith(".bias", StringComparison.Ordinal)) continue;
            other += t.numel() * t.element_size();
        }
        return new SizeAccounting(weights, bits, layerBytes, other);
    }

    /// <summary>What the checkpoint needs in theory: the compressed weights at their storage bits, the rest in float.</summary>
    public long CheckpointTheoreticalBytes => (StorageBits + 7) / 8 + OtherTensorBytes;

    /// <summary>Storage bits per compressed weight (4 decimals), or null without compressed layers.</summary>
    public double? BitsPerWeight => CompressedWeights == 0 ? null : Math.Round((double)StorageBits / CompressedWeights, ReportNumber.BitsDecimals);

    /// <summary>report.json's <c>output</c> for the checkpoint at <paramref name="path"/> (written under <paramref name="fileName"/>).</summary>
    public CheckpointOutput Checkpoint(string fileName, string path) =>
        new(fileName, InputFile.Sha256Of(path), new FileInfo(path).Length, CheckpointTheoreticalBytes, CompressedWeights, BitsPerWeight);

    /// <summary>report.json's <c>output.onnx</c> for the model <paramref name="export"/> wrote.</summary>
    public OnnxOutput Onnx(OnnxExportResult export)
    {
        var compressedInitializers = export.CompressedLayers.SelectMany(l => l.Initializers).ToHashSet(StringComparer.Ordinal);
        long otherBytes = export.InitializerBytes.Where(kv => !compressedInitializers.Contains(kv.Key)).Sum(kv => kv.Value);
        // The compressed layers' initializers hold their weight representation plus their float32 bias; theory counts both.
        long biasBytes = export.CompressedTheoreticalBytes - StorageBytesPerLayer;
        double? bits = CompressedWeights == 0 ? null
            : Math.Round((double)(export.CompressedTensorBytes - biasBytes) * 8 / CompressedWeights, ReportNumber.BitsDecimals);
        return new OnnxOutput(Path.GetFileName(export.ModelPath), export.ExternalDataPath is null ? null : Path.GetFileName(export.ExternalDataPath),
            export.Sha256, export.BytesOnDisk, export.CompressedTheoreticalBytes + otherBytes, export.CompressedTensorBytes,
            export.CompressedTheoreticalBytes, bits, export.Opset, export.IrVersion);
    }
}
