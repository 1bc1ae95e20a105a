using System.IO.Compression;
using System.Text;
using Compressor.Engine.Data;
using Compressor.Engine.Tests.Support;
using Compressor.Sdk.Data;
using Newtonsoft.Json.Linq;
using Xunit;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>The user's own data: jsonl texts tokenized with a model folder's tokenizer.json, and .npz arrays.</summary>
public sealed class DataFormatsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("compress-data-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>A byte-level BPE tokenizer.json (GPT-2 layout): bytes of "a", "b", " " (Ġ), merges a+b → ab, Ġ+ab → Ġab.</summary>
    private string ByteLevelTokenizer()
    {
        string dir = Path.Combine(_dir, "bpe");
        Directory.CreateDirectory(dir);
        var json = new JObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JArray(new JObject { ["id"] = 5, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = new JObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["decoder"] = new JObject { ["type"] = "ByteLevel" },
            ["model"] = new JObject
            {
                ["type"] = "BPE", ["vocab"] = new JObject { ["a"] = 0, ["b"] = 1, ["Ġ"] = 2, ["ab"] = 3, ["Ġab"] = 4, ["<|endoftext|>"] = 5 },
                ["merges"] = new JArray("a b", "Ġ ab"),
            },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToString());
        return dir;
    }

    [Fact]
    public void ByteLevelBpeFollowsTheMerges()
    {
        var tok = HuggingFaceTokenizer.Load(ByteLevelTokenizer());
        Assert.Equal("bpe-bytelevel", tok.Kind);
        Assert.False(tok.IsEncoder);
        // "ab ab" → pre-tokens "ab", " ab" → bytes a b | Ġ a b → merges (a b) then (Ġ ab) → [ab] [Ġab].
        Assert.Equal([3, 4], tok.Encode("ab ab"));
        Assert.Equal(5, tok.EndOfText);
    }

    [Fact]
    public void WordPieceTokenizerJsonGivesBertIds()
    {
        string folder = MiniLmFolder.Write(Path.Combine(_dir, "minilm"));
        var tok = HuggingFaceTokenizer.Load(folder);
        Assert.True(tok.IsEncoder);
        // bert-base-uncased / MiniLM: [CLS] hello world [SEP].
        Assert.Equal([101, 7592, 2088, 102], tok.Encode("Hello World"));
    }

    [Fact]
    public void JsonlTextsBecomeLanguageModelWindows()
    {
        string file = Path.Combine(_dir, "texts.jsonl");
        File.WriteAllLines(file, Enumerable.Range(0, 40).Select(i => new JObject { ["id"] = i, ["text"] = "ab ab ab" }.ToString(Newtonsoft.Json.Formatting.None)));
        using var splits = DataSources.Open($"jsonl:{file},context=8", 1, ByteLevelTokenizer());
        Assert.Equal(DataKind.Tokens, splits.Info.Kind);
        using var batch = splits.Train.Batches(4).First();
        Assert.Equal(new long[] { 4, 8 }, batch.Input.shape);
        // Every text is [ab][Ġab][Ġab][eot]: a target is the next input token.
        Tolerances.AssertIdentical(batch.Input[.., 1..], batch.Target![.., ..^1], "targets are the inputs shifted by one");
        Assert.True(batch.Input.lt(6).all().item<bool>());
    }

    [Fact]
    public void JsonlFieldsAreChecked()
    {
        string file = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(file, ["{\"text\": \"ab\"}", "", "{\"body\": \"ab\"}"]);
        var e = Assert.Throws<CompressException>(() => DataSources.Open($"jsonl:{file}", 0, ByteLevelTokenizer()));
        Assert.Contains("bad.jsonl:3: field 'text' is missing", e.Message);
        var none = Assert.Throws<CompressException>(() => DataSources.Open($"jsonl:{file}", 0, null));
        Assert.Contains("tokenizer", none.Message);
        File.WriteAllText(Path.Combine(_dir, "bpe", "tokenizer.json"), "{\"model\": {\"type\": \"WordLevel\"}}");
        var unknown = Assert.Throws<CompressException>(() => HuggingFaceTokenizer.Load(Path.Combine(_dir, "bpe")));
        Assert.Contains("'model.type' 'WordLevel' is not supported", unknown.Message);
    }

    [Fact]
    public void NpzArraysAreReadByName()
    {
        string file = Path.Combine(_dir, "data.npz");
        var ids = Enumerable.Range(0, 50).Select(i => (long)(i % 17)).ToArray();
        var labels = Enumerable.Range(0, 10).Select(i => i % 3).ToArray();
        using (var zip = ZipFile.Open(file, ZipArchiveMode.Create))
        {
            Npy(zip, "input_ids", "<i8", "(10, 5)", ids.SelectMany(BitConverter.GetBytes).ToArray());
            Npy(zip, "labels", "<i4", "(10,)", labels.SelectMany(BitConverter.GetBytes).ToArray());
            Npy(zip, "images", "<f4", "(10, 1, 2, 2)", Enumerable.Range(0, 40).SelectMany(i => BitConverter.GetBytes(i * 0.5f)).ToArray());
        }
        using var tokens = DataSources.Open($"npz:{file},validation=0.2", 3);
        Assert.Equal(DataKind.Tokens, tokens.Info.Kind);
        Assert.Equal(8, tokens.Train.Count);
        Assert.Equal(2, tokens.Evaluation.Count);
        using var images = DataSources.Open($"npz:{file},input=images", 3);
        Assert.Equal(DataKind.Images, images.Info.Kind);
        Assert.Equal(3, images.Info.Classes);
        using var all = images.Train.Batches(100).Concat(images.Evaluation.Batches(100)).ToList() is var b ? cat(b.Select(x => x.Input).ToList(), 0) : null;
        Assert.Equal(390f, all!.sum().item<float>(), 3);   // every image is kept once: 0.5·(0 + … + 39)
        var bad = Assert.Throws<CompressException>(() => DataSources.Open($"npz:{file},input=pixels", 0));
        Assert.Contains("no array 'pixels'", bad.Message);
    }

    [Fact]
    public void ImageFoldersAreDecodedCroppedAndNormalisedAsTimmDoes()
    {
        string root = Path.Combine(_dir, "images");
        var colors = new Dictionary<string, SkiaSharp.SKColor> { ["blue"] = new(0, 0, 255), ["red"] = new(255, 0, 0) };
        foreach (var (label, color) in colors)
        {
            string dir = Directory.CreateDirectory(Path.Combine(root, label)).FullName;
            for (int i = 0; i < 3; i++)
            {
                using var bitmap = new SkiaSharp.SKBitmap(40 + 10 * i, 30);
                bitmap.Erase(color);
                using var data = bitmap.Encode(i == 2 ? SkiaSharp.SKEncodedImageFormat.Jpeg : SkiaSharp.SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(dir, $"{i}.{(i == 2 ? "jpg" : "png")}"), data.ToArray());
            }
        }
        File.WriteAllText(Path.Combine(root, "red", "notes.txt"), "not an image");
        using var splits = DataSources.Open($"images:{root},size=16,validation=0.2", 0);
        Assert.Equal(DataKind.Images, splits.Info.Kind);
        Assert.Equal(2, splits.Info.Classes);
        Assert.Equal(new long[] { 3, 16, 16 }, splits.Info.SampleShape);
        var batches = splits.Train.Batches(10).Concat(splits.Evaluation.Batches(10)).ToList();
        using var x = cat(batches.Select(b => b.Input).ToList(), 0);
        using var y = cat(batches.Select(b => b.Target!).ToList(), 0);
        Assert.Equal(6, x.shape[0]);
        // A solid red PNG (label 1, "red" sorts after "blue") is (1 − 0.485)/0.229, (0 − 0.456)/0.224, (0 − 0.406)/0.225 in every pixel.
        int red = Enumerable.Range(0, 6).First(i => y[i].item<long>() == 1);
        Tolerances.AssertClose(tensor(new[] { (1 - 0.485f) / 0.229f, -0.456f / 0.224f, -0.406f / 0.225f }), x[red].mean([1, 2]), rtol: 0, atol: 0.02, "normalised red");
        var bad = Path.Combine(root, "blue", "broken.png");
        File.WriteAllText(bad, "not a png");
        var e = Assert.Throws<CompressException>(() => DataSources.Open($"images:{root}", 0));
        Assert.Contains("broken.png: not a decodable", e.Message);
    }

    private static void Npy(ZipArchive zip, string name, string descr, string shape, byte[] data)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        header = header.PadRight(((10 + header.Length + 1 + 63) / 64) * 64 - 10 - 1) + "\n";
        using var s = zip.CreateEntry(name + ".npy").Open();
        s.Write([0x93, .. "NUMPY"u8, 1, 0]);
        s.Write(BitConverter.GetBytes((ushort)header.Length));
        s.Write(Encoding.ASCII.GetBytes(header));
        s.Write(data);
    }
}
