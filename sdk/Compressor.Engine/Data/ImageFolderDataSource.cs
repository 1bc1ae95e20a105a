using Compressor.Sdk.Data;
using Newtonsoft.Json.Linq;
using SkiaSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>A folder of images, one sub-folder per class (<c>images:DIR[,size=S][,channels=1|3]</c>, classes in
/// ordinal order of their folder names, JPEG and PNG decoded with SkiaSharp), preprocessed as timm evaluates: the
/// shorter side resized (bicubic) to S / crop_pct, a centred S×S crop, RGB scaled to [0, 1], then (x − mean) / std.
/// S, crop_pct, mean and std come from the model folder's config (timm's <c>pretrained_cfg</c>:
/// <c>input_size</c>, <c>crop_pct</c>, <c>mean</c>, <c>std</c>; or <c>preprocessor_config.json</c>:
/// <c>image_mean</c>, <c>image_std</c>, <c>size</c>), else timm's defaults (224, 0.875, ImageNet mean/std);
/// <c>size=</c> overrides S. Samples are split by a seeded shuffle (<see cref="ShuffledSplits"/>).</summary>
public static class ImageFolderDataSource
{
    /// <summary>The largest image file decoded.</summary>
    public const long MaxImageBytes = 64L << 20;

    /// <summary>The largest image side decoded, in pixels (a 16k × 16k RGBA bitmap is 1 GiB).</summary>
    public const int MaxImageSide = 16384;

    /// <summary>The extensions read.</summary>
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png"];

    /// <summary>The preprocessing of a model (or timm's defaults).</summary>
    /// <param name="Size">The square input size.</param>
    /// <param name="CropPct">Centre-crop fraction: the shorter side is resized to Size / CropPct first.</param>
    /// <param name="Mean">Per-channel mean (on [0, 1] values).</param>
    /// <param name="Std">Per-channel standard deviation.</param>
    public sealed record Preprocessing(int Size, double CropPct, double[] Mean, double[] Std)
    {
        /// <summary>timm's ImageNet defaults.</summary>
        public static Preprocessing TimmDefault { get; } = new(224, 0.875, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

        /// <summary>What <paramref name="modelFolder"/>'s config says, over the defaults.</summary>
        public static Preprocessing Of(string? modelFolder)
        {
            if (modelFolder is null) return TimmDefault;
            Preprocessing p;
            try { p = Read(modelFolder); }
            catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException or ArgumentException)
            {
                throw new CompressException(ErrorKind.InvalidInput, $"{modelFolder}: its image preprocessing settings are not numbers of the expected kind ({e.Message})");
            }
            // Values from a file: a crop of 0, a zero deviation or an absurd size would give infinities or a huge allocation.
            if (p.Size is < 1 or > 4096 || !(p.CropPct > 0 && p.CropPct <= 1) || p.Mean.Any(v => !double.IsFinite(v)) || p.Std.Any(v => !(v > 0 && double.IsFinite(v))))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{modelFolder}: image preprocessing out of range (size {p.Size} must be 1..4096, crop_pct {p.CropPct} in (0, 1], std > 0 and finite)");
            return p;
        }

        private static Preprocessing Read(string modelFolder)
        {
            var p = TimmDefault;
            string config = Path.Combine(modelFolder, "config.json"), pre = Path.Combine(modelFolder, "preprocessor_config.json");
            if (File.Exists(config) && Checkpoints.HuggingFaceConfig.Read(config)["pretrained_cfg"] is JObject cfg)
            {
                if (cfg["input_size"] is JArray { Count: 3 } size) p = p with { Size = (int)size[2] };
                if (cfg["crop_pct"] is { Type: JTokenType.Float or JTokenType.Integer } crop) p = p with { CropPct = (double)crop };
                if (cfg["mean"] is JArray { Count: 3 } mean) p = p with { Mean = mean.Select(v => (double)v).ToArray() };
                if (cfg["std"] is JArray { Count: 3 } std) p = p with { Std = std.Select(v => (double)v).ToArray() };
            }
            else if (File.Exists(pre))
            {
                var j = Checkpoints.HuggingFaceConfig.Read(pre);
                if (j["image_mean"] is JArray { Count: 3 } mean) p = p with { Mean = mean.Select(v => (double)v).ToArray() };
                if (j["image_std"] is JArray { Count: 3 } std) p = p with { Std = std.Select(v => (double)v).ToArray() };
                if (j["size"] is JObject { } s && (s["height"] ?? s["shortest_edge"]) is { Type: JTokenType.Integer } h) p = p with { Size = (int)h, CropPct = 1 };
                if (j["crop_pct"] is { Type: JTokenType.Float } crop) p = p with { CropPct = (double)crop };
            }
            return p;
        }
    }

    /// <summary>Opens the folder.</summary>
    public static DataSplits Open(DataSpec spec, int seed, string? modelFolder)
    {
        string dir = spec.Path!;
        if (!Directory.Exists(dir)) throw new CompressException(ErrorKind.InvalidInput, $"--data images:{dir}: no such folder");
        var p = Preprocessing.Of(modelFolder);
        int size = spec.Int("size", p.Size, 1, 4096), channels = spec.Int("channels", 3, 1, 3);
        if (channels == 2) throw new CompressException(ErrorKind.InvalidOptions, "--data images: channels must be 1 or 3");
        var classes = Directory.GetDirectories(dir).Select(Path.GetFileName).OfType<string>().Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0) throw new CompressException(ErrorKind.InvalidInput, $"{dir}: no class sub-folders (expected DIR/<class>/<image>.jpg|png)");
        var files = classes.SelectMany((c, i) => Directory.GetFiles(Path.Combine(dir, c))
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).Select(f => (File: f, Label: i))).ToList();
        if (files.Count < 2) throw new CompressException(ErrorKind.InvalidInput, $"{dir}: {files.Count} image(s) (JPEG or PNG) under its class folders");
        long values = (long)files.Count * channels * size * size;
        if (values > Array.MaxLength)
            throw new CompressException(ErrorKind.InvalidInput, $"{dir}: {files.Count} images of {channels}×{size}×{size} are more than one tensor holds here; use fewer images or a smaller ,size=");
        var pixels = new float[values];
        for (int n = 0; n < files.Count; n++) Decode(files[n].File, size, channels, p, pixels.AsSpan(n * channels * size * size, channels * size * size));
        var x = tensor(pixels, [files.Count, channels, size, size]);
        var y = tensor(files.Select(f => (long)f.Label).ToArray());
        string name = $"images:{Path.GetFileName(Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar))}";
        var info = new DataInfo(name, DataKind.Images, [channels, size, size], classes.Count, 0, null);
        return ShuffledSplits.Of(new TensorDataSet(name, x, y), spec, seed, info, 256);
    }

    /// <summary>Decodes, resizes, crops and normalises one image into <paramref name="target"/> ([C, S, S]).</summary>
    private static void Decode(string file, int size, int channels, Preprocessing p, Span<float> target)
    {
        // A regular file of bounded size (read on the bytes, not the stated length), and bounded dimensions checked from
        // the header before anything is decoded: a small file cannot declare a gigapixel image.
        var bytes = IO.InputFiles.ReadAllBytes(file, MaxImageBytes);
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new CompressException(ErrorKind.InvalidInput, $"{file}: not a decodable JPEG or PNG image");
        if (codec.Info.Width is < 1 or > MaxImageSide || codec.Info.Height is < 1 or > MaxImageSide)
            throw new CompressException(ErrorKind.InvalidInput, $"{file}: {codec.Info.Width}×{codec.Info.Height} pixels; at most {MaxImageSide} per side are read");
        using var bitmap = SKBitmap.Decode(codec) ?? throw new CompressException(ErrorKind.InvalidInput, $"{file}: not a decodable JPEG or PNG image");
        double scale = size / p.CropPct / Math.Min(bitmap.Width, bitmap.Height);
        int w = Math.Max(size, (int)Math.Round(bitmap.Width * scale)), h = Math.Max(size, (int)Math.Round(bitmap.Height * scale));
        using var resized = bitmap.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKCubicResampler.CatmullRom))
                            ?? throw new CompressException(ErrorKind.InvalidInput, $"{file}: cannot be resized");
        int left = (w - size) / 2, top = (h - size) / 2, plane = size * size;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                var px = resized.GetPixel(left + c, top + r);
                double red = px.Red / 255.0, green = px.Green / 255.0, blue = px.Blue / 255.0;
                if (channels == 1) target[r * size + c] = (float)(((0.299 * red + 0.587 * green + 0.114 * blue) - p.Mean[0]) / p.Std[0]);
                else
                {
                    target[r * size + c] = (float)((red - p.Mean[0]) / p.Std[0]);
                    target[plane + r * size + c] = (float)((green - p.Mean[1]) / p.Std[1]);
                    target[2 * plane + r * size + c] = (float)((blue - p.Mean[2]) / p.Std[2]);
                }
            }
    }
}
