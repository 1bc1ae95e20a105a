using System.Buffers.Binary;
using System.Text;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("st-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void RoundTripsEveryDtypeAndMetadata()
    {
        var tensors = new List<(string, Tensor)>
        {
            ("f32", randn(3, 4)), ("f16", randn(5).to_type(ScalarType.Float16)), ("bf16", randn(2, 2).to_type(ScalarType.BFloat16)),
            ("f64", randn(2).to_type(ScalarType.Float64)), ("i8", tensor(new sbyte[] { -128, 0, 127 })), ("u8", tensor(new byte[] { 0, 255 })),
            ("i16", tensor(new short[] { -3, 3 })), ("i32", tensor(new[] { int.MinValue, int.MaxValue })), ("i64", tensor(new[] { long.MinValue, 5L })),
            ("bool", tensor(new[] { true, false, true })), ("empty", zeros(0, 3)), ("scalar", tensor(2.5f)),
        };
        string path = PathOf("all.safetensors");
        SafetensorsWriter.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode" });
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(tensors.Select(t => t.Item1), reader.Entries.Select(e => e.Name));
        Assert.Equal("ünïcode", reader.Metadata["note"]);
        foreach (var (name, t) in tensors)
        {
            using var back = reader.Read(name);
            Tolerances.AssertIdentical(t, back, name);
        }
        Assert.Equal(0, (8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path).AsSpan(0, 8))) % 8);
    }

    [Fact]
    public void ReadsAFileInTheReferenceLayout()
    {
        // Byte layout as the Python safetensors library writes it: u64 header length, JSON header, raw data.
        string header = """{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""";
        var bytes = new List<byte>();
        var h = Encoding.UTF8.GetBytes(header);
        bytes.AddRange(BitConverter.GetBytes((ulong)h.Length));
        bytes.AddRange(h);
        bytes.AddRange(BitConverter.GetBytes(1.5f)); bytes.AddRange(BitConverter.GetBytes(-2f));
        bytes.AddRange(BitConverter.GetBytes(7L)); bytes.AddRange(BitConverter.GetBytes(-9L));
        string path = PathOf("ref.safetensors");
        File.WriteAllBytes(path, bytes.ToArray());
        using var r = SafetensorsReader.Open(path);
        Assert.Equal(new[] { 1.5f, -2f }, r.Read("a").data<float>().ToArray());
        Assert.Equal(new[] { 7L, -9L }, r.Read("b").data<long>().ToArray());
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "short", "fewer than the 8-byte header length" },
        { "header-beyond-file", "exceeds the file" },
        { "bad-json", "malformed header JSON" },
        { "unknown-dtype", "unsupported dtype 'F8'" },
        { "size-mismatch", "needs 16" },
        { "out-of-range", "outside the data section" },
        { "overlap", "overlap" },
        { "negative-dim", "negative dimension" },
        { "overflow", "overflows" },
        { "metadata-not-string", "is not a string" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void RejectsMalformedFilesWithOneLine(string kind, string fragment)
    {
        byte[] Make(string header, int dataBytes)
        {
            var h = Encoding.UTF8.GetBytes(header);
            var b = new byte[8 + h.Length + dataBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)h.Length);
            h.CopyTo(b, 8);
            return b;
        }
        byte[] file = kind switch
        {
            "short" => [1, 2, 3],
            "header-beyond-file" => BitConverter.GetBytes(ulong.MaxValue).Concat(Encoding.UTF8.GetBytes("{}")).ToArray(),
            "bad-json" => Make("{\"a\": {", 0),
            "unknown-dtype" => Make("""{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}""", 1),
            "size-mismatch" => Make("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}""", 8),
            "out-of-range" => Make("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8),
            "overlap" => Make("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12),
            "negative-dim" => Make("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", 0),
            "overflow" => Make("""{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""", 0),
            "metadata-not-string" => Make("""{"__metadata__":{"x":1}}""", 0),
            _ => throw new ArgumentException(kind),
        };
        string path = PathOf(kind + ".safetensors");
        File.WriteAllBytes(path, file);
        var e = Assert.Throws<CompressException>(() => SafetensorsReader.Open(path).Dispose());
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    [Fact]
    public void WriterIsDeterministicAndAtomic()
    {
        var t = arange(10, dtype: ScalarType.Float32);
        string a = PathOf("a.safetensors"), b = PathOf("b.safetensors");
        SafetensorsWriter.Write(a, [("t", t)], new Dictionary<string, string> { ["z"] = "1", ["a"] = "2" });
        SafetensorsWriter.Write(b, [("t", t)], new Dictionary<string, string> { ["a"] = "2", ["z"] = "1" });
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Empty(Directory.GetFiles(_dir, ".*"));
    }
}
