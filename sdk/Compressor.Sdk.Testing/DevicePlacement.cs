using Compressor.Engine.Models;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Xunit;
using static TorchSharp.torch;

namespace Compressor.Sdk.Testing;

/// <summary>Checks that a plugin's tensors follow the model's device, without a GPU.
/// <para>The model stays on the CPU and, while the plugin runs, TorchSharp's default device (what tensor factories and
/// module constructors use when no device is named) is <c>meta</c>: tensors with a shape and no data. A factory call
/// that does not name the device of the tensors it works with (<c>zeros(n)</c> instead of
/// <c>zeros(n, device: w.device)</c>), a module or state tensor built on the default device, a <c>data&lt;T&gt;()</c>
/// read without <c>.cpu()</c>, each makes or meets a meta tensor, which fails as soon as it meets a model tensor (or is
/// found in the model afterwards) — where the same code on a CUDA run makes a CPU tensor that fails against the
/// model's CUDA tensors, or leaves a CPU layer in a CUDA model. What it cannot see: a plugin that forgets to move its
/// data batches to <see cref="PluginContext.Device"/> (batches and model are both on the CPU here), and code that
/// names <c>CPU</c> explicitly where it should name the model's device.</para></summary>
public static class DevicePlacement
{
    /// <summary>Runs <paramref name="plugin"/> with <paramref name="options"/> on <paramref name="model"/> (on the CPU)
    /// with the default device set to meta, and asserts that it succeeds and that every parameter and buffer of the
    /// model is on the CPU afterwards. The model is left as the plugin left it; the caller disposes it.</summary>
    /// <param name="plugin">The plugin.</param>
    /// <param name="model">A model on the CPU (e.g. from <see cref="TinyModels"/>).</param>
    /// <param name="options">The plugin's options.</param>
    /// <param name="data">The data the plugin needs (create it before calling: data sets made under the meta default
    /// would be meta themselves).</param>
    public static void AssertTensorsFollowModelDevice(ICompressionPlugin plugin, CompressibleModel model, PluginOptions options, PluginData? data = null)
    {
        var initial = Strays(model);
        Assert.True(initial.Count == 0, $"the model must start on the CPU; not there: {string.Join(", ", initial.Take(8))}");
        var work = Directory.CreateTempSubdirectory("device-placement-").FullName;
        var previous = get_default_device();
        try
        {
            var context = new PluginContext
            {
                Model = model, Resume = new FolderResumeStore(work, TinyModels.Kinds(plugin.LayerKinds)), Report = new ReportBuilder(),
                Data = data ?? PluginData.None, Seed = 0, Device = CPU,
            };
            set_default_device(new Device(TorchSharp.DeviceType.META));
            try
            {
                plugin.Run(context, options);
            }
            catch (Exception e)
            {
                set_default_device(previous);
                Assert.Fail($"the plugin failed with the default device set to meta, so it makes a tensor or module on the default device " +
                            $"rather than on the model's (or reads a non-CPU tensor's data): {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}\n{e.StackTrace}");
            }
            finally
            {
                set_default_device(previous);
            }
            var strays = Strays(model);
            Assert.True(strays.Count == 0, $"after the run, {strays.Count} model tensor(s) are not on the model's device (cpu): {string.Join(", ", strays.Take(8))}");
        }
        finally
        {
            set_default_device(previous);
            Directory.Delete(work, recursive: true);
        }
    }

    private static List<string> Strays(CompressibleModel model) =>
        model.Module.named_parameters().Select(p => (p.name, p.parameter.device_type))
            .Concat(model.Module.named_buffers().Select(b => (b.name, b.buffer.device_type)))
            .Where(t => t.device_type != TorchSharp.DeviceType.CPU).Select(t => $"{t.name} ({t.device_type})").ToList();
}
