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
    /// no decision was asked for (0) or the model has no structured layer. A layer that <paramref name="recorded"/> (the
    /// decisions of an earlier run at the same token count, from its recipe) names takes the recorded decision and
    /// break-even instead of a new measurement, so a recipe run again writes the same ONNX bytes on any machine; the
    /// others are measured.</summary>
    public static PreMergeReport? Apply(CompressibleModel model, int deployTokens, PreMergeReport? recorded = null)
    {
        if (deployTokens <= 0) return null;
        var known = recorded is not null && recorded.DeployTokens == deployTokens
            ? recorded.Layers.ToDictionary(l => l.Name, StringComparer.Ordinal) : [];
        var layers = new List<PreMergeLayer>();
        foreach (var (name, layer) in model.CompressedLayers())
        {
            if (layer is not StructuredLinear s) continue;
            if (known.TryGetValue(name, out var r))
            {
                s.PreMerged = r.Merged;
                layers.Add(new PreMergeLayer(name, s.Kind, s.InFeatures, s.OutFeatures, r.BreakEvenTokens, r.Merged));
                continue;
            }
            int breakEven = PreMergeDecision.BreakEvenTokens(s);
            s.PreMerged = PreMergeDecision.Merged(s, deployTokens);
            layers.Add(new PreMergeLayer(name, s.Kind, s.InFeatures, s.OutFeatures, breakEven, s.PreMerged));
        }
        return layers.Count == 0 ? null : new PreMergeReport(deployTokens, layers.Count(l => l.Merged), layers);
    }
}
