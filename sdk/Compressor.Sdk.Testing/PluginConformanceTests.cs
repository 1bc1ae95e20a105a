using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Onnx.Export;
using Compressor.Engine.Onnx.Verification;
using Compressor.Engine.Options;
using Compressor.Sdk.Models;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using Compressor.Sdk.Reports;
using Newtonsoft.Json.Linq;
using Xunit;
using static TorchSharp.torch;

namespace Compressor.Sdk.Testing;

/// <summary>Derive a test class from this to prove a plugin honours the contract: its options round-trip through
/// JSON and reject bad values with a message naming the flag; it rewrites a tiny model into compressed layers
/// whose outputs are finite; the compressed checkpoint reloads into an identical model; the ONNX export of the
/// compressed model (through the kinds' lowerings) passes the verification gate on ONNX Runtime; every compressed
/// layer is of a kind the plugin or the layers library declares, and its config survives the file format; every
/// compressed layer meets the weight SQNR floor the author sets; every tensor it creates follows the model's device
/// (<see cref="DevicePlacement"/>, checked without a GPU); and a run leaves no TorchSharp tensor alive once the model
/// is disposed.</summary>
/// <typeparam name="TPlugin">The plugin class.</typeparam>
/// <typeparam name="TOptions">Its options record.</typeparam>
public abstract class PluginConformanceTests<TPlugin, TOptions>
    where TPlugin : ICompressionPlugin, new()
    where TOptions : PluginOptions, new()
{
    /// <summary>Options to run the conformance checks with (usually non-default values).</summary>
    protected abstract TOptions SampleOptions { get; }

    /// <summary>Command-line token lists that must be rejected, each with the flag the message must name.</summary>
    protected abstract IEnumerable<(string[] Arguments, string Flag)> InvalidArguments { get; }

    /// <summary>The minimum weight SQNR in dB of every compressed layer under <see cref="SampleOptions"/>.</summary>
    protected abstract double MinimumWeightSqnrDb { get; }

    /// <summary>The model the plugin runs on (default: <see cref="TinyModels.Mlp"/> knowing the plugin's kinds).</summary>
    protected virtual CompressibleModel CreateModel() => TinyModels.Mlp(seed: 7, kinds: new TPlugin().LayerKinds);

    /// <summary>A batch of inputs for <see cref="CreateModel"/>.</summary>
    protected virtual Tensor CreateInputs() => TinyModels.Inputs([5, 64], seed: 3);

    /// <summary>Data for plugins that need it (default: none).</summary>
    protected virtual PluginData CreateData() => PluginData.None;

    /// <summary>The ai.onnx opset of the export check (default null: the exporter's choice, 21, or 25 where 2-bit
    /// weights need int2).</summary>
    protected virtual int? OnnxOpset => null;

    /// <summary>The kinds a host would know when running the plugin: the layers library's and the plugin's own.</summary>
    private static LayerKindSet Kinds => TinyModels.Kinds(new TPlugin().LayerKinds);

    /// <summary>Runs the plugin with <paramref name="options"/> on a fresh model.</summary>
    protected (CompressibleModel Model, ReportBuilder Report) RunPlugin(TOptions options)
    {
        var model = CreateModel();
        var report = new ReportBuilder();
        var work = Directory.CreateTempSubdirectory("conformance-").FullName;
        try
        {
            new TPlugin().Run(new PluginContext { Model = model, Resume = new FolderResumeStore(work, Kinds), Report = report, Data = CreateData(), Seed = 0 }, options);
            return (model, report);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Every tensor the plugin creates follows the model's device: run with <see cref="SampleOptions"/> under
    /// <see cref="DevicePlacement.AssertTensorsFollowModelDevice"/> (the model on the CPU, TorchSharp's default device
    /// set to meta, so a tensor made on the default device instead of the model's fails or is found in the model).</summary>
    [Fact]
    public void TensorsFollowTheModelsDevice()
    {
        var data = CreateData();
        using var model = CreateModel();
        DevicePlacement.AssertTensorsFollowModelDevice(new TPlugin(), model, SampleOptions, data);
    }

    /// <summary>Options survive a trip through recipe JSON unchanged.</summary>
    [Fact]
    public void OptionsRoundTripThroughJson()
    {
        var schema = OptionsSchema.For(typeof(TOptions));
        var json = schema.ToJson(SampleOptions);
        var back = schema.FromJson(JObject.Parse(json.ToString()), "conformance");
        Assert.True(JToken.DeepEquals(json, schema.ToJson(back)), $"options changed in a JSON round trip: {json} vs {schema.ToJson(back)}");
    }

    /// <summary>The defaults and the sample options pass validation.</summary>
    [Fact]
    public void DefaultAndSampleOptionsValidate()
    {
        var schema = OptionsSchema.For(typeof(TOptions));
        schema.Validate(schema.Defaults(), "conformance");
        schema.Validate(SampleOptions, "conformance");
        Assert.All(schema.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{o.Flag} has no description"));
    }

    /// <summary>Bad values are rejected with a one-line message that names the option.</summary>
    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        var schema = OptionsSchema.For(typeof(TOptions));
        foreach (var (args, flag) in InvalidArguments)
        {
            var e = Assert.Throws<OptionsException>(() => schema.ParseCli(args, "conformance"));
            Assert.Contains(flag, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    /// <summary>The plugin rewrites at least one layer and the model's outputs stay finite.</summary>
    [Fact]
    public void RewritesLayersAndStaysFinite()
    {
        var (model, _) = RunPlugin(SampleOptions);
        using (model)
        {
            Assert.NotEmpty(model.CompressedLayers());
            using var x = CreateInputs();
            using var y = model.Forward(x);
            Assert.True(y.isfinite().all().item<bool>(), "outputs contain NaN or Inf");
        }
    }

    /// <summary>The compressed checkpoint reloads into a model with identical tensors and identical outputs.</summary>
    [Fact]
    public void CompressedCheckpointReloads()
    {
        var (model, _) = RunPlugin(SampleOptions);
        string path = Path.Combine(Path.GetTempPath(), $"conformance-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (model)
            {
                var saved = Assert.IsAssignableFrom<EngineModel>(model);   // CreateModel must return a model of TinyModels (or loaded by the engine)
                ModelIO.Save(saved, path);
                using var reloaded = ModelIO.Load(path, Kinds);
                var a = model.NamedTensors();
                var b = reloaded.NamedTensors();
                Assert.Equal(a.Select(t => t.Name), b.Select(t => t.Name));
                for (int i = 0; i < a.Count; i++) Tolerances.AssertIdentical(a[i].Tensor, b[i].Tensor, a[i].Name);
                using var x = CreateInputs();
                using var y1 = model.Forward(x);
                using var y2 = reloaded.Forward(x);
                Tolerances.AssertIdentical(y1, y2, "outputs after reload");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Every compressed layer the plugin writes is of a kind the host knows from the plugin or the layers
    /// library, reports a config of that kind's config type, and that config survives the file format (written as JSON
    /// and read back, it rebuilds a layer with the same config).</summary>
    [Fact]
    public void CompressedLayersAreOfDeclaredKinds()
    {
        var (model, _) = RunPlugin(SampleOptions);
        using (model)
        {
            var kinds = Kinds;
            foreach (var (name, layer) in model.CompressedLayers())
            {
                Assert.True(kinds.Contains(layer.Kind), $"{name}: kind '{layer.Kind}' is declared neither by the plugin's LayerKinds nor by the layers library");
                var kind = kinds.Get(layer.Kind);
                Assert.IsType(kind.ConfigType, layer.Config);
                using var rebuilt = LayerConfigJson.CreateLike(kinds, layer, name);
                var written = LayerConfigJson.Write(layer).ToJsonString();
                Assert.Equal(written, LayerConfigJson.Write((Compressor.Sdk.Layers.ICompressedLayer)rebuilt).ToJsonString());
            }
        }
    }

    /// <summary>Every compressed layer's weight SQNR meets <see cref="MinimumWeightSqnrDb"/>.</summary>
    [Fact]
    public void WeightSqnrMeetsFloor()
    {
        var (model, report) = RunPlugin(SampleOptions);
        using (model)
        {
            Assert.NotEmpty(report.Layers);
            foreach (var row in report.Layers)
                Assert.True(row.SqnrDb >= MinimumWeightSqnrDb, $"{row.Name}: weight SQNR {row.SqnrDb:F2} dB < {MinimumWeightSqnrDb} dB");
        }
    }

    /// <summary>The compressed model exports to ONNX through the plugin's lowerings and passes the verification gate:
    /// ONNX Runtime loads and runs it, its outputs match TorchSharp (per compressed layer too), its compressed tensors
    /// take no more than their theoretical size, and every op is one ORT 1.31 CPU runs.</summary>
    [Fact]
    public void OnnxExportPassesVerificationGate()
    {
        var (model, _) = RunPlugin(SampleOptions);
        string dir = Directory.CreateTempSubdirectory("conformance-onnx-").FullName;
        try
        {
            using (model)
            {
                var export = OnnxExporter.Export(model, Path.Combine(dir, "model.onnx"), Kinds, new OnnxExportOptions { Opset = OnnxOpset });
                Assert.NotEmpty(export.CompressedLayers);
                var verification = OnnxVerifier.Verify(model, export);
                Assert.True(verification.Loads, "ONNX Runtime cannot load the exported model: " + string.Join("; ", verification.Failures));
                Assert.True(verification.Passed, "verification gate failed: " + string.Join("; ", verification.Failures));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Running the plugin and disposing the model leaves as many live tensors on this thread as creating and
    /// disposing the model alone does (a first run warms caches; the second is counted). The model's own count is
    /// subtracted so that the check is about the plugin, not about the architecture it runs on.</summary>
    [Fact]
    public void RunLeaksNoTensors()
    {
        static long Live() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var (warm, _) = RunPlugin(SampleOptions);
        warm.Dispose();
        long start = Live();
        CreateModel().Dispose();
        long modelOnly = Live() - start;
        long before = Live();
        var (model, _) = RunPlugin(SampleOptions);
        model.Dispose();
        long leaked = Live() - before - modelOnly;
        Assert.True(leaked == 0, $"{leaked} tensor(s) still alive after the plugin ran and the model was disposed (the model alone leaves {modelOnly})");
    }
}
