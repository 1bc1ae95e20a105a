using Compressor.Host.Results;
using Compressor.Layers.Structured;
using Compressor.Sdk.Models;

namespace Compressor.Host.Pipeline;

/// <summary>Applies the export-time pre-merge decision (<c>--deploy-tokens N</c>) to the structured layers of a model
/// loaded for export: each is marked merged when N is below its shape's measured break-even
/// (<see cref="PreMergeDecision"/>, the same measurement the lowerings consult through
/// <see cref="Compressor.Sdk.Layers.ILoweringContext.DeployTokens"/>), so the size accounting and the verification gate
/// see the form the ONNX file holds. Only the in-memory copy changes: the checkpoint keeps the form it records.</summary>
public static class PreMergeChoice
{
    /// <summary>Decides every structured layer of <paramref name="model"/> at <paramref name="deployTokens"/>; null when
    /// no decision was asked for (0) or the model has no structured layer.</summary>
    public static PreMergeReport? Apply(CompressibleModel model, int deployTokens)
    {
        if (deployTokens <= 0) return null;
        var layers = new List<PreMergeLayer>();
        foreach (var (name, layer) in model.CompressedLayers())
        {
            if (layer is not StructuredLinear s) continue;
            int breakEven = PreMergeDecision.BreakEvenTokens(s);
            s.PreMerged = PreMergeDecision.Merged(s, deployTokens);
            layers.Add(new PreMergeLayer(name, s.Kind, s.InFeatures, s.OutFeatures, breakEven, s.PreMerged));
        }
        return layers.Count == 0 ? null : new PreMergeReport(deployTokens, layers.Count(l => l.Merged), layers);
    }
}
