using Compressor.Engine.Models;
using Compressor.Engine.Plugins;
using Compressor.Engine.Options;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Models;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using static TorchSharp.torch;

namespace Compressor.Host.Search;

/// <summary>Applies treatments to an independent copy of the input model in process (<see cref="CompressibleModel.FrozenCopy"/>),
/// each as the plugin step a recipe would run (its options with <c>include</c> naming the treated layers), so that
/// a trial treats exactly what the final recipe will (<see cref="TreatedWeights"/> uses cheaper runs where the
/// treatment allows). Plugin logs are kept out of the console; each trial gets a
/// fresh resume folder, removed afterwards.</summary>
public sealed class TrialRunner(CompressibleModel pristine, PluginCatalog catalog, PluginData data, Device device, int seed, string scratch)
{
    private int _trials;

    /// <summary>A copy of the input model with <paramref name="steps"/> applied in order (the caller disposes it).</summary>
    /// <exception cref="CompressException">A plugin failed (PluginFailed) or the options are invalid (InvalidOptions).</exception>
    public CompressibleModel Apply(IReadOnlyList<(Treatment Treatment, IReadOnlyList<string> Layers)> steps, CancellationToken cancellation)
    {
        var model = pristine.FrozenCopy();
        try
        {
            int i = 0;
            foreach (var (treatment, layers) in steps)
            {
                if (treatment.IsFp32 || layers.Count == 0) continue;
                Run(model, treatment, layers, layers, withData: true, i, cancellation);
                i++;
            }
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="treatment"/>'s plugin on <paramref name="model"/> in place, selecting <paramref name="select"/>
    /// (<paramref name="layers"/> names them in messages), with the search's data when <paramref name="withData"/> and
    /// the plugin reads data.</summary>
    /// <exception cref="CompressException">A plugin failed (PluginFailed) or the options are invalid (InvalidOptions).</exception>
    public void Run(CompressibleModel model, Treatment treatment, IReadOnlyList<string> select, IReadOnlyList<string> layers, bool withData, int step,
        CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        var entry = catalog.Require(treatment.Plugin!);
        var options = OptionsSchema.For(entry.Instance!.OptionsType).FromJson(treatment.OptionsFor(select), $"search treatment '{treatment.Id}'");
        string work = Path.Combine(scratch, $"trial-{Environment.ProcessId}-{Interlocked.Increment(ref _trials)}");
        try
        {
            var context = new PluginContext
            {
                Model = model, Data = !withData || entry.Manifest!.Needs == DataRequirement.None ? PluginData.None : data, Device = device, Seed = seed,
                Random = new Random(seed + step), Log = NullPluginLogger.Instance, Cancellation = cancellation,
                Resume = new FolderResumeStore(work, catalog.Kinds), Report = new ReportBuilder(),
            };
            entry.Instance.Run(context, options);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { throw; }
        catch (CompressException) { throw; }
        catch (Exception e)
        {
            throw new CompressException(ErrorKind.PluginFailed, $"search trial of '{treatment.Id}' on {layers[0]}{(layers.Count > 1 ? $" (+{layers.Count - 1})" : "")}: plugin '{entry.Id}' failed: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}", e);
        }
        finally
        {
            try { if (Directory.Exists(work)) Directory.Delete(work, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>The storage bits of <paramref name="layer"/> in <paramref name="model"/> as treated (what stands for its
    /// weight, biases left out), or null when the treatment left it a plain float layer (it did not apply).</summary>
    public static long? WeightBits(CompressibleModel model, string layer)
    {
        var module = model.GetLayer(layer);
        return module is ICompressedLayer c ? c.WeightStorageBits : null;
    }
}
