using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Optional per-batch image transforms of image specs: <c>size=S</c> (bilinear resize to S×S, e.g. 224 to
/// feed an ImageNet model digits or MNIST), <c>channels=C</c> (repeat a grey channel C times) and <c>scale=F</c>
/// (multiply pixel values in [0, 1], e.g. 255 for a model that expects 0..255).</summary>
public static class ImageTransform
{
    /// <summary>Wraps the splits' sets when the spec asks for a transform; returns them unchanged otherwise.</summary>
    public static DataSplits Apply(DataSplits splits, DataSpec spec)
    {
        int size = spec.Int("size", 0, 0, 4096), channels = spec.Int("channels", 0, 0, 64);
        double scale = spec.Options.TryGetValue("scale", out var s) && double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : spec.Options.ContainsKey("scale") ? throw new CompressException(ErrorKind.InvalidOptions, $"--data: 'scale={s}' must be a positive number") : 1.0;
        if (size == 0 && channels == 0 && scale == 1.0) return splits;
        var shape = splits.Info.SampleShape.ToArray();
        if (channels > 0 && shape[0] != 1 && shape[0] != channels)
            throw new CompressException(ErrorKind.InvalidOptions, $"--data: channels={channels} needs one-channel images, these have {shape[0]}");
        Tensor Map(Tensor x)
        {
            using var scope = NewDisposeScope();
            var y = x;
            if (size > 0) y = nn.functional.interpolate(y, [size, size], mode: InterpolationMode.Bilinear, align_corners: false);
            if (channels > 0 && y.shape[1] != channels) y = y.expand(-1, channels, -1, -1).contiguous();
            if (scale != 1.0) y = y.mul(scale);
            return y.MoveToOuterDisposeScope();
        }
        if (size > 0) { shape[1] = size; shape[2] = size; }
        if (channels > 0) shape[0] = channels;
        var info = splits.Info with { SampleShape = shape };
        return new DataSplits(info, new MappedDataSet(splits.Train, Map), new MappedDataSet(splits.Calibration, Map), new MappedDataSet(splits.Evaluation, Map));
    }
}
