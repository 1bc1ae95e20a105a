using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Layers.Structured;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>The activation-sparsity pipeline of one run: record calibration inputs of the selected linears, allocate
/// the per-layer sparsities (<see cref="ActivationSparsifier"/>), and replace each linear by a
/// <see cref="TopKMaskedLinear"/> (exported as a TopK mask before the MatMul).</summary>
public static class ActivationSparsity
{
    /// <summary>Rewrites the model in <paramref name="context"/> with <paramref name="options"/>.</summary>
    public static void Apply(PluginContext context, SparsityOptions options)
    {
        var model = context.Model;
        if (!model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "sparsity: --activation-sparsity needs an executable model for calibration (pass --arch)");
        var data = context.Data.Calibration ?? context.Data.Train
                   ?? throw new CompressException(ErrorKind.InvalidOptions, "sparsity: --activation-sparsity needs calibration data: pass --data");
        var layers = FfnSelection.Select(model, options.Include, options.Exclude, options.FirstLayerDense, out _);
        if (layers.Count == 0) return;   // a unit of a streamed run without a linear to rewrite (FfnSelection.StreamedUnit)
        bool wina = options.ActivationSparsity == ActivationScore.Wina;
        var names = layers.Select(l => l.Name).ToList();
        var inputs = ActivationSparsifier.RecordInputs(model, names, data, options.CalibrationTokens, options.BatchSize, context.Device, context.Cancellation);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            if (inputs.Values.Any(t => t.shape[0] == 0))
                throw new CompressException(ErrorKind.InvalidInput, "sparsity: the calibration data reached no selected layer");
            foreach (var l in layers) weights[l.Name] = ((TorchSharp.Modules.Linear)l.Module).weight!.detach();   // on the model's device, like the recorded inputs
            var sparsity = ActivationSparsifier.Allocate(inputs, weights, wina, options.Sparsity, options.Allocation == SparsityAllocation.Greedy);
            double errorSum = 0;
            foreach (var info in layers)
            {
                var linear = (TorchSharp.Modules.Linear)info.Module;
                var w = weights[info.Name];
                long keep = ActivationSparsifier.Keep(w.shape[1], sparsity[info.Name]);
                using var scale = ActivationSparsifier.ColumnScale(w, wina);
                double error = ActivationSparsifier.RelativeError(inputs[info.Name], w, scale, keep);
                errorSum += error;
                using var bias = linear.bias?.detach();
                var replacement = TopKMaskedLinear.FromDense(w, bias, keep, wina);
                replacement.to(context.Device);
                context.Report.AddLayer(info.Name, replacement, w);
                context.Report.AddMetric(new Metric($"activationSparsity:{info.Name}", replacement.Sparsity, "ratio"));
                context.Report.AddMetric(new Metric($"relativeOutputError:{info.Name}", error, "ratio"));
                context.Log.Info($"sparsity: {info.Name} keeps {keep} of {w.shape[1]} inputs ({replacement.Sparsity:P1} sparse), calibration output error {error:P2}");
                model.ReplaceLayer(info.Name, replacement);
            }
            context.Report.AddMetric(new Metric("meanRelativeOutputError", errorSum / layers.Count, "ratio"));
            context.Report.AddMetric(new Metric("targetActivationSparsity", options.Sparsity, "ratio"));
        }
        finally
        {
            foreach (var t in inputs.Values) t.Dispose();
            foreach (var t in weights.Values) t.Dispose();
        }
    }

}
