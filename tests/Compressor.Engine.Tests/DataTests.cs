using System.Buffers.Binary;
using System.IO.Compression;
using Compressor.Sdk.Data;
using Compressor.Engine.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

public sealed class DataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("data-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void DigitsAreTheSklearnSetSplitDeterministically()
    {
        var (x, y) = DigitsDataSource.LoadAll();
        Assert.Equal(new long[] { 1797, 1, 8, 8 }, x.shape);
        // sklearn's per-class counts of the digits set.
        Assert.Equal(new long[] { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 }, y.bincount(null, 0).data<long>().ToArray());
        Assert.InRange(x.max().item<float>(), 1f, 1f);
        // The first image is the famous 0 (row 0 of digits.csv).
        Assert.Equal(new[] { 0f, 0f, 5f / 16, 13f / 16, 9f / 16, 1f / 16, 0f, 0f }, x[0, 0, 0].data<float>().ToArray());
        using var a = DataSources.Open("digits", seed: 3);
        using var b = DataSources.Open("digits,calibration=32", seed: 3);
        Assert.Equal(1438, a.Train.Count);
        Assert.Equal(359, a.Evaluation.Count);
        Assert.Equal(32, b.Calibration.Count);
        var ta = ((TensorDataSet)a.Train).Targets!;
        var tb = ((TensorDataSet)b.Train).Targets!;
        Assert.True(ta.equal(tb).all().item<bool>());
        using var c = DataSources.Open("digits", seed: 4);
        Assert.False(ta.equal(((TensorDataSet)c.Train).Targets!).all().item<bool>());
    }

    private string WriteIdx(string name, byte type, int[] dims, byte[] data, bool gzip)
    {
        var bytes = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (var d in dims) { var b = new byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, d); bytes.AddRange(b); }
        bytes.AddRange(data);
        string path = Path.Combine(_dir, name + (gzip ? ".gz" : ""));
        if (gzip)
        {
            using var fs = File.Create(path);
            using var gz = new GZipStream(fs, CompressionLevel.Fastest);
            gz.Write(bytes.ToArray());
        }
        else File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    [Fact]
    public void IdxFolderLoadsGzippedOrPlain()
    {
        var rnd = new Random(1);
        var img = new byte[20 * 4 * 4]; rnd.NextBytes(img);
        var lab = Enumerable.Range(0, 20).Select(i => (byte)(i % 3)).ToArray();
        WriteIdx("train-images-idx3-ubyte", 8, [20, 4, 4], img, gzip: true);
        WriteIdx("train-labels-idx1-ubyte", 8, [20], lab, gzip: false);
        WriteIdx("t10k-images-idx3-ubyte", 8, [5, 4, 4], img[..80], gzip: false);
        WriteIdx("t10k-labels-idx1-ubyte", 8, [5], lab[..5], gzip: true);
        using var d = DataSources.Open($"idx:{_dir},calibration=4", 0);
        Assert.Equal(new long[] { 1, 4, 4 }, d.Info.SampleShape);
        Assert.Equal(3, d.Info.Classes);
        Assert.Equal(20, d.Train.Count);
        Assert.Equal(5, d.Evaluation.Count);
        Assert.Equal(4, d.Calibration.Count);
        var x = ((TensorDataSet)d.Evaluation).Inputs;
        Assert.Equal(img[17] / 255f, x[1, 0, 0, 1].item<float>(), 6);
        using var limited = DataSources.Open($"idx:{_dir},limit=7,calibration=3", 0);
        Assert.Equal(7, limited.Train.Count);
        Assert.Equal(new long[] { 1, 4, 4 }, limited.Info.SampleShape);
    }

    [Theory]
    [InlineData("bad-magic", "bad magic")]
    [InlineData("lying-dims", "dimensions say")]
    [InlineData("float-type", "element type 0x0d")]
    [InlineData("huge-dims", "dimensions say")]
    public void MalformedIdxIsAOneLineError(string kind, string fragment)
    {
        string path = kind switch
        {
            "bad-magic" => WriteRaw([1, 2, 8, 1, 0, 0, 0, 1, 5]),
            "lying-dims" => WriteIdx("x", 8, [1000, 28, 28], new byte[10], false),
            "float-type" => WriteIdx("x", 0x0d, [1], new byte[4], false),
            "huge-dims" => WriteIdx("x", 8, [int.MaxValue, int.MaxValue, 2], new byte[3], false),
            _ => throw new ArgumentException(kind),
        };
        var e = Assert.Throws<CompressException>(() => IdxReader.ReadBytes(path).Dispose());
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private string WriteRaw(byte[] b)
    {
        string p = Path.Combine(_dir, "raw");
        File.WriteAllBytes(p, b);
        return p;
    }

    [Fact]
    public void TextWindowsShiftTargetsByOneAndHoldOutTheEnd()
    {
        string path = Path.Combine(_dir, "t.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("abcdefghij", 30)));
        using var d = DataSources.Open($"text:{path},context=9,calibration=2", 0);
        Assert.Equal(10, d.Info.VocabularySize);
        Assert.Equal(DataKind.Tokens, d.Info.Kind);
        var set = (TensorDataSet)d.Train;
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6, 7, 8 }, set.Inputs[0].data<long>().ToArray());
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, set.Targets![0].data<long>().ToArray());
        Assert.Equal((270 - 1) / 9, set.Count);
        Assert.Equal((30 - 1) / 9, d.Evaluation.Count);
        Assert.Equal(2, d.Calibration.Count);
    }

    [Fact]
    public void SentencesAreWordPieceTokenizedWithMiniLmsVocabulary()
    {
        string path = Path.Combine(_dir, "s.txt");
        File.WriteAllText(path, string.Join(" ", Enumerable.Range(0, 30).Select(i => $"The whale number {i} swam away. Go home now!")) + "\nToo short\n");
        using var d = DataSources.Open($"sentences:{path},context=8,calibration=5", seed: 2);
        Assert.Equal(DataKind.Sentences, d.Info.Kind);
        Assert.Equal(30_522, d.Info.VocabularySize);
        Assert.Equal(60, d.Train.Count + d.Evaluation.Count);
        var x = ((TensorDataSet)d.Train).Inputs;
        Assert.Equal(new long[] { 8 }, x.shape[1..]);
        Assert.All(Enumerable.Range(0, (int)x.shape[0]), i => Assert.Equal(101, x[i, 0].item<long>()));   // [CLS]
        // Every row is [CLS] … [SEP] then [PAD] = 0: the last non-zero id is 102; "Go home now." is short enough to be padded.
        for (int i = 0; i < x.shape[0]; i++)
        {
            var row = x[i].data<long>().ToArray();
            Assert.Equal(102, row.Last(t => t != 0));
        }
        Assert.True(x.eq(0).any().item<bool>(), "no padded row");
        Assert.Null(((TensorDataSet)d.Train).Targets);
    }

    [Fact]
    public void ImageSpecsResizeRepeatChannelsAndScaleBatchByBatch()
    {
        using var d = DataSources.Open("digits,size=32,channels=3,scale=255,limit=10", seed: 0);
        Assert.Equal(new long[] { 3, 32, 32 }, d.Info.SampleShape);
        using var b = d.Train.Batches(4).First();
        Assert.Equal(new long[] { 4, 3, 32, 32 }, b.Input.shape);
        Assert.InRange(b.Input.max().item<float>(), 200f, 255.01f);
        Assert.True(b.Input[0, 0].equal(b.Input[0, 2]).all().item<bool>());
    }

    [Fact]
    public void Gpt2TokenizerGivesTheReferenceIds()
    {
        // "Hello world" is [15496, 995] in GPT-2's BPE (the same ids tiktoken and Hugging Face give).
        Assert.Equal(new[] { 15496, 995 }, TextDataSource.Gpt2("Hello world").Ids);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("imagenet", "unknown kind 'imagenet'")]
    [InlineData("idx", "needs a path")]
    [InlineData("digits,foo=1", "unknown key 'foo'")]
    [InlineData("digits,calibration=-3", "calibration=-3")]
    [InlineData("text:x.txt,tokenizer=words", "tokenizer=words")]
    [InlineData("digits,scale=-1", "scale=-1")]
    [InlineData("sentences", "needs a path")]
    public void BadSpecsAreOneLineErrors(string spec, string fragment)
    {
        var e = Assert.Throws<CompressException>(() => DataSources.Open(spec, 0).Dispose());
        Assert.Contains(fragment, e.Message);
    }
}
