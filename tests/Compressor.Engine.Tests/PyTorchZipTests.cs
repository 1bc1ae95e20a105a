using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using static TorchSharp.torch;
using Compressor.Engine.Tests.Kinds;

namespace Compressor.Engine.Tests;

public sealed class PyTorchZipTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pt-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void RoundTripsEveryDtypeThroughTheFormatRegistry()
    {
        var tensors = new List<(string, Tensor)>
        {
            ("f32", randn(3, 4)), ("f16", randn(5).to_type(ScalarType.Float16)), ("bf16", randn(2, 2).to_type(ScalarType.BFloat16)),
            ("f64", randn(2).to_type(ScalarType.Float64)), ("i8", tensor(new sbyte[] { -128, 0, 127 })), ("u8", tensor(new byte[] { 0, 255 })),
            ("i16", tensor(new short[] { -3, 3 })), ("i32", tensor(new[] { int.MinValue, int.MaxValue })), ("i64", tensor(new[] { long.MinValue, 5L })),
            ("bool", tensor(new[] { true, false, true })), ("empty", zeros(0, 3)), ("scalar", tensor(2.5f)), ("conv", randn(4, 3, 3, 3)),
        };
        string path = PathOf("all.pt");
        PyTorchZipWriter.Write(path, tensors);
        using var reader = CheckpointFormats.Open(path);
        Assert.Equal("pytorch", reader.Format);
        Assert.Equal(tensors.Select(t => t.Item1), reader.Tensors.Select(e => e.Name));
        Assert.Equal("torch.FloatStorage", reader.Tensors[0].DType);
        Assert.Equal("archive", reader.Metadata["pytorch.prefix"]);
        Assert.Equal("3", reader.Metadata["pytorch.version"]);
        foreach (var (name, t) in tensors)
        {
            using var back = reader.Read(name);
            Tolerances.AssertIdentical(t, back, name);
        }
    }

    [Fact]
    public void WritesTheRecordsPickleAndAlignmentThatTorchSaveWrites()
    {
        string path = PathOf("one.pt");
        PyTorchZipWriter.Write(path, [("w", tensor(new[] { 1f, 2f }))]);
        var bytes = File.ReadAllBytes(path);
        // The pickle CPython writes for torch.save(OrderedDict(w=torch.tensor([1., 2.]))) at protocol 2 (memo slots
        // in CPython's order: OrderedDict global 0, the dict 1, 'w' 2, _rebuild_tensor_v2 3, 'storage' 4,
        // FloatStorage 5, '0' 6, 'cpu' 7, the persistent id 8, size 9, stride 10, hooks 11, args 12, the tensor 13).
        var expected = new List<byte> { 0x80, 0x02 };
        void Ascii(string s) => expected.AddRange(Encoding.Latin1.GetBytes(s));
        void Str(string s, byte memo) { expected.Add((byte)'X'); expected.AddRange(BitConverter.GetBytes(s.Length)); Ascii(s); expected.AddRange([(byte)'q', memo]); }
        Ascii("ccollections\nOrderedDict\nq\x00)Rq\x01");
        Str("w", 2);
        Ascii("ctorch._utils\n_rebuild_tensor_v2\nq\x03((");
        Str("storage", 4);
        Ascii("ctorch\nFloatStorage\nq\x05");
        Str("0", 6);
        Str("cpu", 7);
        Ascii("K\x02tq\x08QK\x00K\x02\x85q\x09K\x01\x85q\x0a\x89h\x00)Rq\x0btq\x0cRq\x0ds.");
        using var zip = new ZipArchive(File.OpenRead(path));
        Assert.Equal(["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/version"], zip.Entries.Select(e => e.FullName));
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
        using (var s = zip.GetEntry("archive/data.pkl")!.Open()) Assert.Equal(expected.ToArray(), ReadAll(s));
        using (var s = zip.GetEntry("archive/version")!.Open()) Assert.Equal("3\n"u8.ToArray(), ReadAll(s));
        using (var s = zip.GetEntry("archive/byteorder")!.Open()) Assert.Equal("little"u8.ToArray(), ReadAll(s));
        // Every local header: stored, DOS time/date 0, an "FB" padding field that aligns the data to 64 bytes.
        for (int at = 0; BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) == 0x04034b50;)
        {
            var h = bytes.AsSpan(at);
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(h[8..]));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(h[10..]));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(h[26..]), extraLength = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            Assert.Equal("FB", Encoding.ASCII.GetString(h.Slice(30 + nameLength, 2)));
            int dataStart = at + 30 + nameLength + extraLength;
            Assert.Equal(0, dataStart % 64);
            at = dataStart + (int)BinaryPrimitives.ReadUInt32LittleEndian(h[22..]);
        }
    }

    [Fact]
    public void StateDictPickleIsWhatCPythonPicklesForTorchSave()
    {
        // Golden/torch_save_pickle.py runs CPython's pickler, as torch.save does, over these same views and prints the
        // length and sha256 of the result.
        string[] classes = ["FloatStorage", "HalfStorage", "LongStorage", "BFloat16Storage", "BoolStorage"];
        var views = new List<(string, string, string, long, long, long[], long[])>();
        (string Class, string Key, long Numel)? previous = null;
        int counter = 0;
        for (int i = 0; i < 1001; i++)
        {
            string name = i == 0 ? "ünïcode.weight" : $"blocks.{i}.w";
            int kind = i % 4;
            long numel = new long[] { i + 1, 6, 70000, 3_000_000_000 }[kind];
            (string Class, string Key, long Numel) storage = i % 7 == 3 && previous is not null
                ? previous.Value
                : (classes[i % 5], (counter++).ToString(System.Globalization.CultureInfo.InvariantCulture), numel);
            (long[] shape, long[] stride) = kind switch
            {
                0 => (new[] { storage.Numel }, new long[] { 1 }),
                1 => ([2, 3], [1, 2]),
                2 => ([700, 100], [100, 1]),
                _ => ([3, 1_000_000_000], [1_000_000_000, 1]),
            };
            if (i == 10) (shape, stride) = (Array.Empty<long>(), Array.Empty<long>());
            views.Add((name, storage.Class, storage.Key, storage.Numel, i % 6 == 5 ? 1 : 0, shape, stride));
            previous = storage;
        }
        var pickle = PyTorchZipWriter.StateDictPickle(views);
        Assert.Equal(99424, pickle.Length);
        Assert.Equal("15375ab337b620a7ef7acb0686a992f44c52c4b8692a5563bad2456c823298b0", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(pickle)));
    }

    [Fact]
    public void ZipCrcMatchesTheStandardCheckValueAndABitwiseReference()
    {
        Assert.Equal(0xCBF43926u, StoredZipWriter.Crc32("123456789"u8));
        var data = new byte[1000];
        new Random(5).NextBytes(data);
        uint c = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        for (int n = 0; n <= 17; n++) Assert.Equal(n == 17 ? ~c : Reference(data.AsSpan(0, n)), StoredZipWriter.Crc32(n == 17 ? data : data.AsSpan(0, n)));

        static uint Reference(ReadOnlySpan<byte> d)
        {
            uint r = 0xFFFFFFFFu;
            foreach (var b in d)
            {
                r ^= b;
                for (int k = 0; k < 8; k++) r = (r & 1) != 0 ? 0xEDB88320u ^ (r >> 1) : r >> 1;
            }
            return ~r;
        }
    }

    [Fact]
    public void MaterialisesTransposedSlicedAndTiedViews()
    {
        // What PyTorch pickles for a transposed weight (the whole storage, strides swapped), a slice with an offset,
        // and two names tied to one storage (GPT-2's wte and lm_head).
        var storage = arange(12, dtype: ScalarType.Float32);
        string path = PathOf("views.pt");
        PyTorchZipWriter.Write(path, [storage], [
            ("transposed", 0, 0, [4, 3], [1, 4]),
            ("slice", 0, 5, [2, 2], [3, 1]),
            ("tied.a", 0, 0, [3, 4], [4, 1]),
            ("tied.b", 0, 0, [3, 4], [4, 1]),
            ("broadcast", 0, 7, [2, 3], [0, 1]),
        ]);
        using var r = CheckpointFormats.Open(path);
        using var whole = storage.reshape(3, 4);
        Tolerances.AssertIdentical(whole.t(), r.Read("transposed"), "transposed");
        Tolerances.AssertIdentical(tensor(new[] { 5f, 6f, 8f, 9f }).reshape(2, 2), r.Read("slice"), "slice");
        Tolerances.AssertIdentical(r.Read("tied.a"), r.Read("tied.b"), "tied");
        Tolerances.AssertIdentical(tensor(new[] { 7f, 8f, 9f, 7f, 8f, 9f }).reshape(2, 3), r.Read("broadcast"), "broadcast");
        Assert.Equal(12 * 4, r.Tensors.Single(t => t.Name == "transposed").ByteCount);
        Assert.True(r.Read("transposed").is_contiguous());
    }

    [Fact]
    public void APublicModelsKeyLayoutAndTranspositionLoadsByName()
    {
        // Hugging Face GPT-2 stores its projections as Conv1D weights [in, out] (the transpose of nn.Linear);
        // timm ViT uses patch_embed.proj and blocks.N.attn.qkv. Written in those exact names and shapes.
        int d = 8;
        var gpt2 = new List<(string, Tensor)>
        {
            ("transformer.wte.weight", randn(50, d)), ("transformer.wpe.weight", randn(16, d)),
            ("transformer.h.0.ln_1.weight", ones(d)), ("transformer.h.0.ln_1.bias", zeros(d)),
            ("transformer.h.0.attn.c_attn.weight", randn(d, 3 * d)), ("transformer.h.0.attn.c_attn.bias", randn(3 * d)),
            ("transformer.h.0.attn.c_proj.weight", randn(d, d)), ("transformer.h.0.mlp.c_fc.weight", randn(d, 4 * d)),
            ("transformer.h.0.mlp.c_proj.weight", randn(4 * d, d)), ("transformer.ln_f.weight", ones(d)),
        };
        string path = PathOf("pytorch_model.bin");
        PyTorchZipWriter.Write(path, gpt2);
        using (var r = CheckpointFormats.Open(path))
        {
            Assert.Equal(new long[] { d, 3 * d }, r.Tensors.Single(t => t.Name == "transformer.h.0.attn.c_attn.weight").Shape);
            foreach (var (name, t) in gpt2) Tolerances.AssertIdentical(t, r.Read(name), name);
            Assert.Equal("gpt2", ArchitectureDetector.Detect(r.Tensors.Select(t => t.Name).ToList(), r.Metadata)?.Name);
        }

        // A built-in model's state dict written by torch.save's layout loads into the architecture by name.
        using var model = TinyModels.Mlp(seed: 3);
        string mlpPath = PathOf("mlp.pth");
        PyTorchZipWriter.Write(mlpPath, model.NamedTensors());
        using var back = ModelIO.Load(mlpPath, TestKinds.All, model.Spec);
        using var x = TinyModels.Inputs([2, 64]);
        Tolerances.AssertIdentical(model.Forward(x), back.Forward(x), "outputs");
    }

    [Fact]
    public void UnwrapsNestedCheckpointsAndFlattensNestedDicts()
    {
        // {"model": {"fc.weight": t, "fc.bias": b}, "epoch": 7}: the DeiT/timm training-checkpoint shape.
        var w = randn(3, 2);
        var b = randn(3);
        var p = new PickleWriter().Proto().Op('}').Memoize().Mark();
        p.Str("model").Op('}').Memoize().Mark();
        p.Str("fc.weight").Tensor("FloatStorage", "0", 6, 0, [3, 2], [2, 1]);
        p.Str("fc.bias").Tensor("FloatStorage", "1", 3, 0, [3], [1]);
        p.Op('u');
        p.Str("epoch").Int(7);
        p.Op('u');
        string path = PathOf("wrapped.pth");
        WriteArchive(path, p.Stop(), ("0", w), ("1", b));
        using (var r = CheckpointFormats.Open(path))
        {
            Assert.Equal(["fc.weight", "fc.bias"], r.Tensors.Select(t => t.Name));
            Assert.Equal("model", r.Metadata["pytorch.root"]);
            Assert.Equal("7", r.Metadata["pytorch.epoch"]);
            Tolerances.AssertIdentical(w, r.Read("fc.weight"), "w");
        }

        // {"encoder": {"w": t}, "heads": [t, t]} with no wrapper key: dotted names from the top.
        var q = new PickleWriter().Proto().Op('}').Memoize().Mark();
        q.Str("encoder").Op('}').Memoize().Str("w").Tensor("FloatStorage", "0", 6, 0, [3, 2], [2, 1]).Op('s');
        q.Str("heads").Op(']').Memoize().Mark().Tensor("FloatStorage", "1", 3, 0, [3], [1]).Tensor("FloatStorage", "1", 3, 0, [3], [1]).Op('e');
        q.Op('u');
        string nested = PathOf("nested.pth");
        WriteArchive(nested, q.Stop(), ("0", w), ("1", b));
        using var n = CheckpointFormats.Open(nested);
        Assert.Equal(["encoder.w", "heads.0", "heads.1"], n.Tensors.Select(t => t.Name));
        Tolerances.AssertIdentical(b, n.Read("heads.1"), "heads.1");
    }

    [Fact]
    public void ReadsOrderedDictMetadataParametersAndBigEndianFiles()
    {
        // A state_dict() as PyTorch pickles it: OrderedDict items, then BUILD with {'_metadata': OrderedDict(...)};
        // one value wrapped in _rebuild_parameter; byteorder 'big' (e.g. saved on s390x).
        var p = new PickleWriter().Proto().EmptyOrderedDict().Mark();
        p.Str("a").Global("torch._utils", "_rebuild_parameter").Tensor("FloatStorage", "0", 2, 0, [2], [1]).Bool(true).EmptyOrderedDict().Op(0x87).Memoize().Op('R').Memoize();
        p.Str("b").Tensor("LongStorage", "1", 1, 0, [], []);
        p.Op('u');
        p.Op('}').Memoize().Str("_metadata").EmptyOrderedDict().Str("").Op('}').Memoize().Str("version").Int(1).Op('s').Op('s').Op('s').Op('b');
        var big = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(big, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(big.AsSpan(4), -3f);
        var bigLong = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bigLong, 123456789L);
        string path = PathOf("big.pt");
        using (var fs = File.Create(path))
        {
            var zip = new StoredZipWriter(fs);
            zip.Add("model/data.pkl", p.Stop());
            zip.Add("model/byteorder", "big"u8);
            zip.Add("model/data/0", big);
            zip.Add("model/data/1", bigLong);
            zip.Add("model/version", "3\n"u8);
            zip.Finish();
        }
        using var r = CheckpointFormats.Open(path);
        Assert.Equal("model", r.Metadata["pytorch.prefix"]);
        Assert.Equal(new[] { 1.5f, -3f }, r.Read("a").data<float>().ToArray());
        Assert.Equal(123456789L, r.Read("b").item<long>());
        Assert.Empty(r.Read("b").shape);
    }

    [Fact]
    public void ToleratesTheRecordsNewerPyTorchWritesAndOlderRebuildFunctions()
    {
        // PyTorch 2.x also writes .format_version, .storage_alignment and .data/serialization_id; older files name the
        // prefix after the file and use _rebuild_tensor; a size may be pickled as torch.Size((…)).
        var p = new PickleWriter().Proto().Op('}').Memoize().Mark();
        p.Str("v1").Global("torch._utils", "_rebuild_tensor").Mark()
            .Mark().Str("storage", shared: true).Global("torch", "IntStorage").Str("0", shared: true).Str("cpu", shared: true).Int(4).Op('t').Memoize().Op('Q')
            .Int(0).Global("torch", "Size").Int(2).Int(2).Op(0x86).Op(0x85).Op('R').IntTuple([2, 1]).Op('t').Op('R');
        p.Str("v2").Tensor("IntStorage", "0", 4, 2, [2], [1]);
        p.Op('u');
        string path = PathOf("pytorch_model.bin");
        using (var fs = File.Create(path))
        {
            var zip = new StoredZipWriter(fs);
            zip.Add("pytorch_model/data.pkl", p.Stop());
            zip.Add("pytorch_model/.format_version", "1"u8);
            zip.Add("pytorch_model/.storage_alignment", "64"u8);
            zip.Add("pytorch_model/byteorder", "little"u8);
            zip.Add("pytorch_model/data/0", tensor(new[] { 1, 2, 3, 4 }).bytes);
            zip.Add("pytorch_model/version", "3\n"u8);
            zip.Add("pytorch_model/.data/serialization_id", "1234567890123456789012345678901234567890"u8);
            zip.Finish();
        }
        using var r = CheckpointFormats.Open(path);
        Assert.Equal("pytorch_model", r.Metadata["pytorch.prefix"]);
        Assert.Equal(new[] { 1, 2, 3, 4 }, r.Read("v1").data<int>().ToArray());
        Assert.Equal(new long[] { 2, 2 }, r.Read("v1").shape);
        Assert.Equal(new[] { 3, 4 }, r.Read("v2").data<int>().ToArray());
    }

    /// <summary>A torch.save-shaped archive with a hand-built pickle and the given storages.</summary>
    internal static void WriteArchive(string path, byte[] pickle, params (string Key, Tensor Data)[] storages)
    {
        using var fs = File.Create(path);
        var zip = new StoredZipWriter(fs);
        zip.Add("archive/data.pkl", pickle);
        zip.Add("archive/byteorder", "little"u8);
        foreach (var (key, t) in storages) zip.Add("archive/data/" + key, t.contiguous().bytes);
        zip.Add("archive/version", "3\n"u8);
        zip.Finish();
    }

    private static byte[] ReadAll(Stream s)
    {
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }
}
