using Compressor.Layers.Geometry;
using Compressor.Layers.Integer;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Samples.RoundToNearest.Algorithm;

/// <summary><c>rtn --activation-bits 8</c> (README, "Activations (W8A8)"): optional SmoothQuant, then static
/// calibration of each layer's input range (or dynamic quantization at run time), then every selected linear and
/// conv layer becomes an <see cref="IntegerLayer"/> (kinds <c>integer_linear</c>, <c>integer_conv2d</c>) with int8
/// weights per output channel — the layers ONNX Runtime runs on its integer kernels.</summary>
internal static class W8A8Compressor
{
    /// <summary>The SQNR (dB) the model's output must keep after a SmoothQuant fold on a calibration batch: the fold
    /// is exact algebra, so only float rounding differs (measured > 100 dB); below this the producer did not keep
    /// channels apart and the fold is undone.</summary>
    public const double FoldCheckDb = 60;

    public static void Run(PluginContext context, RtnOptions options, IReadOnlyList<LayerInfo> layers)
    {
        if (options.WeightBits != 8 || options.GroupSize != 0)
            throw new CompressException(ErrorKind.InvalidOptions,
                $"rtn --activation-bits 8 quantizes weights to int8 per output channel: pass --weight-bits 8 --group-size 0 (got --weight-bits {options.WeightBits} --group-size {options.GroupSize})");
        if (options.HighPrecisionLayers.Length > 0)
            throw new CompressException(ErrorKind.InvalidOptions, "rtn --activation-bits 8: --high-precision-layers applies to weight-only quantization");
        bool needsData = options.ActivationScheme == ActivationScheme.Static || options.Smoothquant > 0;
        var model = context.Model;
        if (needsData && context.Data.Calibration is null)
            throw new CompressException(ErrorKind.InvalidOptions,
                $"rtn {(options.Smoothquant > 0 ? "--smoothquant" : "--activation-scheme static")} calibrates on data: pass --data SPEC (or use --activation-scheme dynamic, which needs none)");
        if (needsData && !model.IsExecutable)
            throw new CompressException(ErrorKind.InvalidInput, "rtn: calibration needs an executable model: pass --arch");
        var dense = layers.Where(l => l.Type is LayerType.Linear or LayerType.Conv2d).ToList();

        if (options.Smoothquant > 0) Smooth(context, options, dense);
        if (options.ActivationScheme == ActivationScheme.Static) FoldNormalizations(context, dense);

        Dictionary<string, (float Scale, int ZeroPoint)> ranges = new(StringComparer.Ordinal);
        Dictionary<string, (float Scale, int ZeroPoint)> outputs = new(StringComparer.Ordinal);
        if (options.ActivationScheme == ActivationScheme.Static)
        {
            // A static convolution's output is requantized too (QLinearConv, ORT's fast int8 convolution): its grid is
            // calibrated on what the float layer writes, with the same method as the inputs.
            // A convolution whose output only reaches the model through a ReLU (conv + ReLU fused, after the
            // normalisation fold) gets a grid calibrated on the rectified values, which starts at 0 (zero point 0): no
            // code is spent on negatives, and the requantization's saturation at 0 is the ReLU.
            var rectified = dense.Where(l => l.Type == LayerType.Conv2d && model.OutputIsRectified(l.Name)).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
            if (rectified.Count > 0)
            {
                context.Log.Info($"rtn: {rectified.Count} convolution(s) fused with the ReLU after them (output grid from 0)");
                context.Report.AddMetric(new Metric("reluFusedConvolutions", rectified.Count, "layers"));
            }
            var observers = Observe(context, options, dense, observeConvOutputs: true, rectified);
            foreach (var (name, o) in observers)
            {
                ranges[name] = StaticRange.Of(o, options.Calibration, options.Percentile);
                if (o.Output is { } written) outputs[name] = StaticRange.Of(written, options.Calibration, options.Percentile);
                o.Dispose();
            }
        }

        context.Log.Info($"rtn: {dense.Count} layer(s) to W8A8, {Naming(options.ActivationScheme)} inputs" +
                         (options.ActivationScheme == ActivationScheme.Static ? $" ({Naming(options.Calibration)} calibration)" : ""));
        using var progress = context.Progress.Start("rtn: W8A8 layers", dense.Count);
        long weights = 0, bits = 0;
        foreach (var layer in dense)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            context.Memory.EnsureFits($"rtn: layer '{layer.Name}'", 3 * 4 * layer.WeightCount);
            using var scope = NewDisposeScope();
            var (weight, bias) = layer.Module switch
            {
                TorchSharp.Modules.Linear linear => (linear.weight!.detach(), linear.bias?.detach()),
                TorchSharp.Modules.Conv2d conv => (conv.weight!.detach(), conv.bias?.detach()),
                _ => throw new InvalidOperationException($"rtn: unexpected layer {layer.Module.GetType().Name}"),
            };
            var geometry = WeightGeometry.Of(layer.Module);
            var activations = options.ActivationScheme switch
            {
                ActivationScheme.Static => ActivationQuantization.Static,
                ActivationScheme.Dynamic when geometry is LinearGeometry => ActivationQuantization.DynamicPerToken,
                _ => ActivationQuantization.DynamicPerTensor,   // a convolution cannot take per-token scales
            };
            var q = RoundToNearestQuantizer.Quantize(weight.flatten(1), 8, 0, QuantScheme.Symmetric, options.ClipSearch);
            var (scale, zero) = ranges.GetValueOrDefault(layer.Name, (1f, 128));
            bool quantizedOutput = outputs.TryGetValue(layer.Name, out var written);
            var format = new IntegerFormat(activations) { QuantizedOutput = quantizedOutput };
            var replacement = IntegerLayer.FromCodes(geometry, format, q.Codes, q.Scales.reshape(-1), scale, zero,
                quantizedOutput ? written.Scale : 1f, quantizedOutput ? written.ZeroPoint : 128, bias);
            context.Report.AddLayer(layer.Name, replacement, weight);
            weights += layer.WeightCount;
            bits += replacement.WeightStorageBits;
            replacement.to(context.Device);
            model.ReplaceLayer(layer.Name, replacement);
            progress.Advance(1, layer.Name);
        }
        context.Report.AddMetric(new Metric("quantizedBitsPerWeight", (double)bits / weights, "bits"));
        context.Report.AddMetric(new Metric("quantizedWeights", weights, "weights"));
        context.Report.AddMetric(new Metric("activationBits", 8, "bits"));
    }

    /// <summary>Runs the calibration batches with an observer in front of each layer; returns the observers (the
    /// layers are back in place).</summary>
    /// <remarks>Every observer samples with the same seed, so that a layer reading exactly what another one writes
    /// (a convolution after a ReLU-fused one) samples the same values and calibrates the same grid: the export's
    /// DequantizeLinear → QuantizeLinear between them then cancels.</remarks>
    private static List<(string Name, InputObserver Observer)> Observe(PluginContext context, RtnOptions options, IReadOnlyList<LayerInfo> layers, bool observeConvOutputs = false,
        IReadOnlySet<string>? rectified = null)
    {
        var model = context.Model;
        var observers = new List<(string, InputObserver)>();
        try
        {
            foreach (var layer in layers)
            {
                var o = new InputObserver((nn.Module<Tensor, Tensor>)layer.Module, context.Seed) { ChannelsLast = layer.Type == LayerType.Linear };
                if (observeConvOutputs && layer.Type == LayerType.Conv2d)
                    o.Output = new OutputObserver(context.Seed) { Rectified = rectified?.Contains(layer.Name) == true };
                model.ReplaceLayer(layer.Name, o, disposeOld: false);
                observers.Add((layer.Name, o));
            }
            using var progress = context.Progress.Start("rtn: calibration", options.CalibrationBatches);
            int seen = 0;
            using (no_grad())
            {
                bool training = model.Module.training;
                model.Module.eval();
                try
                {
                    foreach (var batch in context.Data.Calibration!.Batches(8))
                    {
                        using var b = batch;
                        using var scope = NewDisposeScope();
                        context.Cancellation.ThrowIfCancellationRequested();
                        model.Forward(b.Input.to(context.Device));
                        progress.Advance(1);
                        if (++seen >= options.CalibrationBatches) break;
                    }
                }
                finally { if (training) model.Module.train(); }
            }
            if (seen == 0) throw new CompressException(ErrorKind.InvalidInput, $"rtn: the calibration set {context.Data.Calibration!.Name} is empty");
            return observers;
        }
        finally
        {
            foreach (var (name, o) in observers) model.ReplaceLayer(name, o.Inner, disposeOld: false);
        }
    }

    /// <summary>Static convolutions requantize their output to one uint8 grid (QLinearConv), which cannot hold channels
    /// of very different ranges: a BatchNormalization that reads a convolution's output is folded into it first (the
    /// model's function unchanged, checked on a calibration batch as SmoothQuant's folds are).</summary>
    private static void FoldNormalizations(PluginContext context, IReadOnlyList<LayerInfo> layers)
    {
        var model = context.Model;
        var convs = layers.Where(l => l.Type == LayerType.Conv2d).ToList();
        if (convs.Count == 0) return;
        using var probe = FirstBatch(context);
        using var reference = Output(model, probe);
        var folded = new List<string>();
        foreach (var conv in convs)
            if (model.FoldOutputNormalization(conv.Name) is { } into)
                folded.Add($"{into} → {conv.Name}");
        if (folded.Count == 0) return;
        using var after = Output(model, probe);
        double db = Sqnr.Db(reference, after);
        if (db < FoldCheckDb)
            throw new CompressException(ErrorKind.InvalidInput, $"rtn: folding {folded.Count} BatchNormalization(s) into their convolutions changed the model's output ({db:F1} dB < {FoldCheckDb} dB)");
        context.Log.Info($"rtn: {folded.Count} BatchNormalization(s) folded into the convolution before them (output SQNR {db:F1} dB)");
        context.Log.Debug($"rtn: folded {string.Join(", ", folded)}");
        context.Report.AddMetric(new Metric("foldedNormalizations", folded.Count, "layers"));
    }

    /// <summary>SmoothQuant: groups the linear layers by the tensor they read, migrates each group's activation
    /// outliers into its weights where the producer absorbs the division, and checks each fold on a calibration
    /// batch.</summary>
    private static void Smooth(PluginContext context, RtnOptions options, IReadOnlyList<LayerInfo> layers)
    {
        var model = context.Model;
        var linears = layers.Where(l => l.Module is TorchSharp.Modules.Linear).ToList();
        var observers = Observe(context, options, linears);
        using var probe = FirstBatch(context);
        using var reference = Output(model, probe);
        int smoothed = 0;
        var skipped = new List<string>();
        foreach (var group in observers.GroupBy(o => o.Observer.FirstInput!, ReferenceEqualityComparer.Instance))
        {
            using var scope = NewDisposeScope();
            var names = group.Select(g => g.Name).ToList();
            var modules = names.Select(n => (TorchSharp.Modules.Linear)model.GetLayer(n)).ToList();
            var channelMax = group.First().Observer.ChannelMax!;
            var s = SmoothQuant.Factors(channelMax, modules.Select(m => m.weight!.cpu()), options.Smoothquant);
            string? into = model.FoldInputScale(names, s);
            if (into is null) { skipped.Add(string.Join("+", names)); continue; }
            foreach (var m in modules) SmoothQuant.ScaleColumns(m, s);
            using var after = Output(model, probe);
            double db = Sqnr.Db(reference, after);
            if (db < FoldCheckDb)
            {
                using var inverse = s.reciprocal();
                model.FoldInputScale(names, inverse);
                foreach (var m in modules) SmoothQuant.ScaleColumns(m, inverse);
                skipped.Add($"{string.Join("+", names)} (folding into {into} changed the output: {db:F1} dB)");
                continue;
            }
            context.Log.Debug($"rtn: SmoothQuant α = {options.Smoothquant}: {string.Join(", ", names)} ← {into} (output SQNR {db:F1} dB)");
            smoothed += names.Count;
        }
        foreach (var (_, o) in observers) o.Dispose();
        context.Log.Info($"rtn: SmoothQuant α = {options.Smoothquant} on {smoothed} of {linears.Count} linear layer(s)");
        if (skipped.Count > 0)
            context.Report.Warn($"SmoothQuant left {skipped.Count} input(s) unsmoothed (their producer cannot absorb a per-channel division without an extra node, e.g. a GELU or a residual branch): {string.Join("; ", skipped)}");
        context.Report.AddMetric(new Metric("smoothedLayers", smoothed, "layers"));
    }

    private static Sdk.Data.DataBatch FirstBatch(PluginContext context)
    {
        using var e = context.Data.Calibration!.Batches(8).GetEnumerator();
        if (!e.MoveNext()) throw new CompressException(ErrorKind.InvalidInput, $"rtn: the calibration set {context.Data.Calibration!.Name} is empty");
        return e.Current;
    }

    private static Tensor Output(CompressibleModel model, Sdk.Data.DataBatch batch)
    {
        using (no_grad())
        {
            bool training = model.Module.training;
            model.Module.eval();
            try
            {
                var device = model.Module.parameters().FirstOrDefault()?.device ?? CPU;
                using var y = model.Forward(batch.Input.to(device));
                return y.detach().cpu().to_type(ScalarType.Float32);
            }
            finally { if (training) model.Module.train(); }
        }
    }

    private static string Naming<T>(T value) where T : Enum => value.ToString().ToLowerInvariant();
}
