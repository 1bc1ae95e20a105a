using System.Diagnostics;
using Compressor.Layers.Calibration;
using Compressor.Layers.Geometry;
using Compressor.Layers.Quantized;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.Gptq.Algorithm;

/// <summary>The procedure (README "The procedure"): select the linear and ungrouped conv layers; with <c>--awq</c>
/// scale and clip them block by block on the full-precision model (<see cref="ActivationAwareScaling"/>); then, block
/// by block through the already quantized prefix, collect each layer's Hessian, quantize it (GPTQ or nearest) and put
/// the layers library's <see cref="QuantizedLayer"/> in its place.</summary>
public static class GptqCompressor
{
    /// <summary>Quantizes the selected layers of <paramref name="context"/>'s model in place.</summary>
    public static void Run(PluginContext context, GptqOptions options)
    {
        var model = context.Model;
        if (!model.IsExecutable) throw new CompressException(ErrorKind.InvalidInput, "gptq: needs an executable model (calibration forwards); pass --arch");
        var data = context.Data.Calibration ?? context.Data.Train
            ?? throw new CompressException(ErrorKind.InvalidInput, "gptq: needs calibration data: pass --data");
        var selector = new LayerSelector(options.Include, options.Exclude);
        var all = model.Layers();
        var targets = all.Where(l => (l.Type == LayerType.Linear || (l.Type == LayerType.Conv2d && l.Module is TorchSharp.Modules.Conv2d { groups: 1 }))
                                     && selector.Matches(l.Name)).ToList();
        foreach (var skipped in all.Where(l => l.Type == LayerType.Conv2d && selector.Matches(l.Name) && !targets.Contains(l)))
            context.Report.Warn($"gptq: {skipped.Name} is a grouped convolution; left uncompressed");
        if (targets.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "gptq: no linear or conv layer matches --include/--exclude");

        var clock = Stopwatch.StartNew();
        using var feeder = new CalibrationFeeder(data, options.CalibrationSamples, options.BatchSize, context.Seed, "gptq") { Device = context.Device };
        if (feeder.Samples < options.CalibrationSamples)
            context.Report.Warn($"gptq: the calibration data {data.Name} holds {feeder.Samples} samples, fewer than --calibration-samples {options.CalibrationSamples}; " +
                                "using all of them (a --data source takes ,calibration=N for a larger calibration split)");
        var settings = GptqSettings.Of(options);
        context.Log.Info($"gptq: {targets.Count} layer(s), {options.WeightBits}-bit {Kebab(options.Scheme)}, group size {options.GroupSize}, rounding {Kebab(options.Rounding)}" +
                         $"{(options.ActOrder ? ", act-order (static groups)" : "")}{(options.Awq ? ", AWQ scaling" + (options.ClipsWithAwq() ? " and clipping" : "") : "")}, {feeder.Samples} calibration samples");
        bool training = model.Module.training;
        model.Module.eval();
        var tally = new Tally(context);
        try
        {
            var names = targets.Select(t => t.Name).ToList();
            if (options.Awq)
            {
                using var awqStream = new BlockStream(model, feeder, names);
                var awq = ActivationAwareScaling.Run(context, options, model, awqStream);
                tally.AwqScaled = awq.Scaled;
                tally.AwqClipped = awq.Clipped;
            }
            using var progress = context.Progress.Start("gptq: quantize layers", targets.Count);
            if (options.Rounding == Rounding.Nearest)
            {
                QuantizeBlock(context, options, settings, model, stream: null, names, tally, progress);   // weights only: no calibration pass
            }
            else
            {
                using var stream = new BlockStream(model, feeder, names);
                for (int k = 0; k < stream.Blocks.Count; k++)
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    stream.Enter(k, context.Cancellation);
                    QuantizeBlock(context, options, settings, model, stream, stream.Blocks[k], tally, progress);
                }
            }
        }
        finally
        {
            model.Module.train(training);
        }
        tally.Report(feeder.Samples, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Quantizes one block's layers, group by group (layers reading one value together); with
    /// <see cref="GptqOptions.TrueSequential"/> each group's Hessians come from a pass with the earlier groups quantized.</summary>
    private static void QuantizeBlock(PluginContext context, GptqOptions options, GptqSettings settings, CompressibleModel model, BlockStream? stream,
        IReadOnlyList<string> block, Tally tally, IProgressTask progress)
    {
        bool needHessian = options.Rounding == Rounding.Gptq;
        if (!needHessian)
        {
            // Nearest rounding reads only the weights (AWQ, if asked, ran before): no calibration pass.
            foreach (var name in block)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var module = model.GetLayer(name);
                var (weight, bias) = WeightOf(module);
                context.Memory.EnsureFits($"gptq: layer '{name}'", 5 * 4 * weight.numel());
                using var codes = NearestRounding.Quantize(weight.flatten(1), settings);
                Replace(context, options, model, name, module, weight, bias, codes, tally);
                module.Dispose();
                progress.Advance(1, name);
            }
            return;
        }
        var captures = Capture(context, model, stream!, block, needHessian);
        IReadOnlyList<IReadOnlyList<string>> groups;
        try
        {
            foreach (var (name, c) in captures)
                if (c.Count == 0) throw new CompressException(ErrorKind.PluginFailed, $"gptq: layer '{name}' saw no calibration input (is it used by the model's forward?)");
            groups = LayerGroups.Of(captures);
        }
        catch
        {
            Release(model, captures);
            throw;
        }
        for (int gi = 0; gi < groups.Count; gi++)
        {
            if (gi > 0 && options.TrueSequential && needHessian)
            {
                Release(model, captures);
                captures = Capture(context, model, stream!, groups[gi], needHessian);
            }
            foreach (var name in groups[gi])
            {
                context.Cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var capture = captures[name];
                var module = capture.Inner;
                var (weight, bias) = WeightOf(module);
                long columns = weight.flatten(1).shape[1];
                // Working set: H and its factors (≈ 4 copies of I² float32), W, its codes, losses and updates (≈ 5 copies).
                context.Memory.EnsureFits($"gptq: layer '{name}'", 4 * 4 * columns * columns + 5 * 4 * weight.numel());
                LayerCodes codes;
                if (needHessian)
                {
                    using var h = capture.Hessian();
                    codes = GptqSolver.Solve(weight.flatten(1), h, settings, name, m => { tally.DampIncreases++; context.Report.Warn(m); });
                    if (capture.Count < columns)
                        context.Report.Warn($"gptq: layer '{name}': {capture.Count} calibration rows for {columns} inputs, so H is singular and only the dampening {codes.DampUsed:G3} makes it invertible; more calibration samples would help");
                }
                else
                {
                    codes = NearestRounding.Quantize(weight.flatten(1), settings);
                }
                using (codes)
                {
                    Replace(context, options, model, name, module, weight, bias, codes, tally);
                    context.Log.Debug($"gptq: {name} [{weight.shape[0]}x{columns}] loss {codes.Loss:G4}, dampening {codes.DampUsed:G3}, {capture.Count} input rows");
                }
                captures.Remove(name);
                capture.Dispose();
                module.Dispose();
                progress.Advance(1, name);
            }
        }
        Release(model, captures);
    }

    /// <summary>Puts the layers library's quantized layer of <paramref name="codes"/> in place of the layer and reports it.</summary>
    private static void Replace(PluginContext context, GptqOptions options, CompressibleModel model, string name, nn.Module module, Tensor weight, Tensor? bias,
        LayerCodes codes, Tally tally)
    {
        var format = new QuantizedFormat(options.WeightBits, options.GroupSize, codes.ZeroPoints is null);
        var replacement = QuantizedLayer.FromCodes(WeightGeometry.Of(module), format, codes.Codes, codes.Scales, codes.ZeroPoints, bias);
        context.Report.AddLayer(name, replacement, weight);
        tally.Add(weight.numel(), replacement.WeightStorageBits, codes.Loss);
        replacement.to(context.Device);
        model.ReplaceLayer(name, replacement, disposeOld: false);
    }

    /// <summary>Puts stand-ins in place of <paramref name="layers"/>, runs the current block and returns them.</summary>
    internal static Dictionary<string, InputCapture> Capture(PluginContext context, CompressibleModel model, BlockStream stream, IEnumerable<string> layers,
        bool hessian, int rowsPerCall = 0)
    {
        var captures = new Dictionary<string, InputCapture>(StringComparer.Ordinal);
        try
        {
            foreach (var name in layers)
            {
                var module = (nn.Module<Tensor, Tensor>)model.GetLayer(name);
                var capture = new InputCapture(module, name, hessian, rowsPerCall, context.Seed * 7919L + captures.Count, () => stream.TokenMask);
                model.ReplaceLayer(name, capture, disposeOld: false);
                captures[name] = capture;
            }
            stream.Run(context.Cancellation);
            return captures;
        }
        catch
        {
            Release(model, captures);
            throw;
        }
    }

    /// <summary>Puts the wrapped layers back in place of their stand-ins and disposes the stand-ins.</summary>
    internal static void Release(CompressibleModel model, Dictionary<string, InputCapture> captures)
    {
        foreach (var (name, capture) in captures)
        {
            model.ReplaceLayer(name, capture.Inner, disposeOld: false);
            capture.Dispose();
        }
        captures.Clear();
    }

    /// <summary>The weight (detached) and bias of a Linear or Conv2d.</summary>
    internal static (Tensor Weight, Tensor? Bias) WeightOf(nn.Module m) => m switch
    {
        TorchSharp.Modules.Linear l => (l.weight!.detach(), l.bias?.detach()),
        TorchSharp.Modules.Conv2d c => (c.weight!.detach(), c.bias?.detach()),
        _ => throw new ArgumentException($"gptq: unsupported layer {m.GetType().Name}"),
    };

    /// <summary>An option value as the command line spells it.</summary>
    internal static string Kebab(Enum value) => System.Text.RegularExpressions.Regex.Replace(value.ToString(), "(?<=[a-z0-9])([A-Z])", "-$1").ToLowerInvariant();

    /// <summary>The run's totals for the report.</summary>
    private sealed class Tally(PluginContext context)
    {
        public long Weights, StorageBits, DampIncreases, Layers;
        public double Loss;
        public int AwqScaled, AwqClipped;

        public void Add(long weights, long bits, double loss)
        {
            Weights += weights;
            StorageBits += bits;
            Loss += loss;
            Layers++;
        }

        public void Report(long samples, double seconds)
        {
            var r = context.Report;
            r.AddMetric(new Metric("quantizedBitsPerWeight", (double)StorageBits / Math.Max(1, Weights), "bits"));
            r.AddMetric(new Metric("quantizedWeights", Weights, "weights"));
            r.AddMetric(new Metric("gptqLoss", Loss, "sum over layers of Σ(w − q)²/[chol(H⁻¹)]ᵢᵢ² / 2"));
            r.AddMetric(new Metric("dampeningIncreases", DampIncreases, "layers"));
            r.AddMetric(new Metric("awqScaledLayers", AwqScaled, "layers"));
            r.AddMetric(new Metric("awqClippedLayers", AwqClipped, "layers"));
            r.AddMetric(new Metric("calibrationSamples", samples, "samples"));
            r.AddMetric(new Metric("compressionSeconds", seconds, "s"));
            context.Log.Info($"gptq: {Layers} layer(s), {(double)StorageBits / Math.Max(1, Weights):F4} bits/weight stored, loss {Loss:G4}, " +
                             $"{AwqScaled} AWQ-scaled, {AwqClipped} clipped, {DampIncreases} dampening increase(s), {seconds:F1} s");
        }
    }
}
