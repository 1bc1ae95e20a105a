using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Layers.Quantized;

namespace Compressor.Host.Tests;

/// <summary>A plugin that touches layers outside its <c>--include</c>/<c>--exclude</c> selection is stopped (exit 9,
/// nothing written); one that keeps to it is not.</summary>
public sealed class PluginSelectionTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Theory]
    [InlineData("ignores-selection", "--include", "layers.0", "replaced layer 'layers.2' (Linear by QuantizedLayer) (and 1 more layer(s)) outside its selection (--include layers.0)")]
    [InlineData("ignores-selection", "--exclude", "layers.4", "replaced layer 'layers.4' (Linear by QuantizedLayer) outside its selection (--exclude layers.4)")]
    [InlineData("edits-outside-selection", "--include", "layers.2", "changed the weights of layer 'layers.0' (and 1 more layer(s)) outside its selection (--include layers.2)")]
    [InlineData("trains-model-replaces", "--include", "layers.0", "replaced layer 'layers.2' (Linear by QuantizedLayer) (and 1 more layer(s)) outside its selection (--include layers.0)")]
    public void APluginOutsideItsSelectionIsStoppedWithExitCodeNineAndNoOutput(string plugin, string flag, string glob, string what)
    {
        string outDir = fx.NewDir("selection");
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "previous contents");
        var (code, _, stderr) = HostFixture.Cli("run", plugin, "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, flag, glob, "-v", "q");
        Assert.Equal((int)ExitCode.PluginExceededSelection, code);
        Assert.Equal($"error: plugin '{plugin}' {what} and was stopped", stderr.TrimEnd());
        Assert.Equal(["keep.txt"], Directory.GetFiles(outDir).Select(Path.GetFileName));  // (and the hidden .work folder of a failed run)
        Assert.Equal("previous contents", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
    }

    [Fact]
    public void APluginDeclaringThatItTrainsTheModelMayChangeUnselectedWeights()
    {
        string outDir = fx.NewDir("selection-model");
        var (code, _, stderr) = HostFixture.Cli("run", "trains-model-edits", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "--include", "layers.2", "-v", "q");
        Assert.True(code == 0, stderr);
        using var before = HostFixture.Load(fx.ModelPath);
        using var after = HostFixture.Load(Path.Combine(outDir, "compressed.safetensors"));
        var w0 = ((TorchSharp.Modules.Linear)before.GetLayer("layers.0")).weight!;
        var w1 = ((TorchSharp.Modules.Linear)after.GetLayer("layers.0")).weight!;
        Assert.True(w1.allclose(w0.mul(0.5)), "the plugin's in-place edit of an unselected layer should have been kept");
    }

    [Fact]
    public void APluginThatKeepsToItsSelectionPasses()
    {
        string outDir = fx.NewDir("selection-ok");
        var (code, _, stderr) = HostFixture.Cli("run", "rtn", "--model", fx.ModelPath, "--out", outDir, "--include", "layers.0", "--exclude", "layers.4", "-v", "q");
        Assert.True(code == 0, stderr);
        using var model = HostFixture.Load(Path.Combine(outDir, "compressed.safetensors"));
        Assert.IsType<QuantizedLayer>(model.GetLayer("layers.0"));
        Assert.IsType<TorchSharp.Modules.Linear>(model.GetLayer("layers.2"));
    }
}
