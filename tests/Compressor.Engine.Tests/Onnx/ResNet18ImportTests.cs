using System.Diagnostics;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Tests.Kinds;
using Compressor.Sdk.Models;
using Compressor.Engine.Models;
using Compressor.Engine.Models.Pretrained;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Compressor.Tests.Shared;

namespace Compressor.Engine.Tests.Onnx;

/// <summary>The real ResNet18 featurizer (CNTK opset-8 export: asymmetric Conv/MaxPool pads, BatchNormalization,
/// AveragePool) imported into TorchSharp against ONNX Runtime.</summary>
public sealed class ResNet18ImportTests(ITestOutputHelper output)
{
    /// <summary>Deterministic 224×224 inputs in the model's input space (BGR planes minus the mean image, as its
    /// preprocessing model produces): a smooth colour pattern, and a "digit zero"-like ring drawn on an 8×8 grid and
    /// upsampled like the sklearn digits. Synthetic: no photograph is committed yet.</summary>
    private static Tensor Inputs(int which)
    {
        var y = linspace(-1, 1, 224).reshape(1, 1, 224, 1);
        var x = linspace(-1, 1, 224).reshape(1, 1, 1, 224);
        if (which == 0)
        {
            var c = arange(3).reshape(1, 3, 1, 1).to_type(ScalarType.Float32);
            return 80 * sin(3 * x + 2 * c) * cos(4 * y - c) + 20 * (x - y);
        }
        var glyph = tensor(new float[]
        {
            0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0,
            0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0,
        }).reshape(1, 1, 8, 8);
        var image = nn.functional.interpolate(glyph, size: [224, 224], mode: InterpolationMode.Bilinear, align_corners: false);
        return (image * (255f / 16f) - 117f).expand(1, 3, 224, 224).contiguous();
    }

    [Fact]
    public void ReproducesOrtFeaturesAndExposesConvLayers()
    {
        string path = PretrainedModels.ResNet18();
        var watch = Stopwatch.StartNew();
        using var model = ModelIO.Load(path, TestKinds.All);
        output.WriteLine($"import: {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(22, model.Layers().Count(l => l.Type == LayerType.Conv2d));
        Assert.Equal(["Input247"], model.InputNames);
        using var ort = OrtReference.Session(path);
        for (int which = 0; which < 2; which++)
        {
            using var scope = NewDisposeScope();
            var input = Inputs(which);
            watch.Restart();
            Tensor ours;
            using (no_grad()) ours = model.Forward(input);
            double ms = watch.Elapsed.TotalMilliseconds;
            var reference = OrtReference.Run(ort, new Dictionary<string, Tensor> { ["Input247"] = input })["Pooling395_Output_0"];
            Assert.Equal(new long[] { 1, 512, 1, 1 }, ours.shape);
            double rel = ((ours - reference).norm() / reference.norm()).item<float>();
            double maxAbs = (ours - reference).abs().max().item<float>();
            output.WriteLine($"input {(which == 0 ? "smooth pattern" : "digit-zero ring")}: TorchSharp {ms:F0} ms, relative error {rel:E2}, max abs {maxAbs:E2}, |ref| {reference.norm().item<float>():F2}");
            Assert.True(rel <= 1e-4, $"relative error {rel} > 1e-4");
        }
    }

    [Fact]
    public void ReproducesOrtFeaturesOnRealDigitImages()
    {
        // Real images: sklearn digits (scanned handwriting) upsampled to 224×224, grey replicated to three planes,
        // 0..255 minus a flat 117 standing in for the preprocessing model's mean image.
        string path = PretrainedModels.ResNet18();
        using var model = ModelIO.Load(path, TestKinds.All);
        using var ort = OrtReference.Session(path);
        using var data = Compressor.Engine.Data.DataSources.Open("digits,size=224,channels=3,scale=255,limit=3", seed: 0);
        using var batch = data.Train.Batches(3).First();
        for (int i = 0; i < 3; i++)
        {
            using var scope = NewDisposeScope();
            var input = batch.Input[i].unsqueeze(0).sub(117f).contiguous();
            Tensor ours;
            using (no_grad()) ours = model.Forward(input);
            var reference = OrtReference.Run(ort, new Dictionary<string, Tensor> { ["Input247"] = input })["Pooling395_Output_0"];
            double rel = ((ours - reference).norm() / reference.norm()).item<float>();
            output.WriteLine($"digit {batch.Target![i].item<long>()}: relative error {rel:E2}");
            Assert.True(rel <= 1e-4, $"relative error {rel} > 1e-4");
        }
    }

    [Fact]
    public void ConvLayersQuantizedTo8BitsKeepTheFeaturesAndReloadFromTheCompressedCheckpoint()
    {
        using var model = ModelIO.Load(PretrainedModels.ResNet18(), TestKinds.All);
        using var input = Inputs(0);
        Tensor fp;
        using (no_grad()) fp = model.Forward(input);
        foreach (var layer in model.Layers().Where(l => l.Type == LayerType.Conv2d).ToList())
        {
            using var scope = NewDisposeScope();
            var conv = (TorchSharp.Modules.Conv2d)layer.Module;
            model.ReplaceLayer(layer.Name, TestQuantizedConv2d.Quantize(conv, bits: 8));
        }
        Assert.Equal(22, model.Layers().Count(l => l.Type == LayerType.Compressed));
        string dir = Directory.CreateTempSubdirectory("resnet-q-").FullName;
        try
        {
            string path = Path.Combine(dir, "resnet18-int8.safetensors");
            ModelIO.Save(model, path);
            using var back = ModelIO.Load(path, TestKinds.All);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var q = model.Forward(input);
            var reloaded = back.Forward(input);
            double cosine = nn.functional.cosine_similarity(q.flatten(), fp.flatten(), 0).item<float>();
            output.WriteLine($"int8 per-channel convs: feature cosine vs float {cosine:F6}; checkpoint {new FileInfo(path).Length:N0} bytes");
            Assert.True(cosine >= 0.999, $"cosine {cosine}");
            Assert.True(q.equal(reloaded).all().item<bool>());
        }
        finally
        {
            fp.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }
}
