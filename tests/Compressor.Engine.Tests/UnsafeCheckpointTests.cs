using System.Buffers.Binary;
using System.IO.Compression;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests;

/// <summary>A corpus of hostile torch.save files built here: each must be refused with a one-line error that names
/// the problem, and the command its payload would run (creating a canary file) must never run.</summary>
public sealed class UnsafeCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("unsafe-pt-").FullName;
    private readonly string _canary = Path.Combine(Path.GetTempPath(), "canary-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        File.Delete(_canary);
    }

    private string Touch => "touch " + _canary;

    /// <summary>A pickle of { "w": payload } where the payload calls <paramref name="module"/>.<paramref name="name"/>(arg) by GLOBAL + REDUCE.</summary>
    private byte[] GlobalCall(string module, string name, string arg) =>
        new PickleWriter().Proto().Op('}').Memoize().Str("w").Global(module, name).Str(arg).Op(0x85).Memoize().Op('R').Memoize().Op('s').Stop();

    private byte[] Payload(string kind) => kind switch
    {
        "GLOBAL os.system" => GlobalCall("os", "system", Touch),
        "GLOBAL posix.system" => GlobalCall("posix", "system", Touch),
        "GLOBAL nt.system" => GlobalCall("nt", "system", Touch),
        "GLOBAL builtins.eval" => GlobalCall("builtins", "eval", $"__import__('os').system('{Touch}')"),
        "GLOBAL builtins.exec" => GlobalCall("builtins", "exec", $"import os; os.system('{Touch}')"),
        "GLOBAL __builtin__.eval" => GlobalCall("__builtin__", "eval", $"__import__('os').system('{Touch}')"),
        "GLOBAL subprocess.Popen" => new PickleWriter().Proto().Global("subprocess", "Popen").Op(']').Memoize().Mark().Str("touch").Str(_canary).Op('e').Op(0x85).Op('R').Stop(),
        "GLOBAL torch.load" => GlobalCall("torch", "load", "/etc/passwd"),
        "GLOBAL torch._utils._rebuild_from_type_v2" => GlobalCall("torch._utils", "_rebuild_from_type_v2", "x"),
        "STACK_GLOBAL os.system" => new PickleWriter().Proto(4).Str("os").Str("system").Op(0x93).Memoize().Str(Touch).Op(0x85).Op('R').Stop(),
        "STACK_GLOBAL builtins.exec" => new PickleWriter().Proto(4).Str("builtins").Str("exec").Op(0x93).Str($"import os; os.system('{Touch}')").Op(0x85).Op('R').Stop(),
        "INST os.system" => new PickleWriter().Proto(0).Mark().Str(Touch).Op('i').Raw("os\nsystem\n"u8).Stop(),
        "INST collections.OrderedDict" => new PickleWriter().Proto(0).Mark().Op('i').Raw("collections\nOrderedDict\n"u8).Stop(),
        "OBJ collections.OrderedDict" => new PickleWriter().Proto().Mark().Global("collections", "OrderedDict").Op('o').Stop(),
        "NEWOBJ collections.OrderedDict" => new PickleWriter().Proto().Global("collections", "OrderedDict").Op(')').Op(0x81).Stop(),
        "NEWOBJ_EX collections.OrderedDict" => new PickleWriter().Proto(4).Global("collections", "OrderedDict").Op(')').Op('}').Op(0x92).Stop(),
        "REDUCE on a storage class" => new PickleWriter().Proto().Global("torch", "FloatStorage").Op(')').Op('R').Stop(),
        "REDUCE on a string" => new PickleWriter().Proto().Str("os.system").Str(Touch).Op(0x85).Op('R').Stop(),
        "BUILD on a tensor" => new PickleWriter().Proto().Tensor("FloatStorage", "0", 2, 0, [2], [1]).Op('}').Str("__setstate__").Str(Touch).Op('s').Op('b').Stop(),
        "BUILD on a list" => new PickleWriter().Proto().Op(']').Op('}').Op('b').Stop(),
        "EXT1" => new PickleWriter().Proto().Op(0x82).Raw([1]).Stop(),
        "persistent id outside the archive" => new PickleWriter().Proto().Tensor("FloatStorage", "../../evil", 2, 0, [2], [1]).Stop(),
        "persistent id of a missing record" => new PickleWriter().Proto().Tensor("FloatStorage", "9", 2, 0, [2], [1]).Stop(),
        "persistent id that is not a storage" => new PickleWriter().Proto().Str("os.system").Op('Q').Stop(),
        "persistent id with a foreign class" => new PickleWriter().Proto().Mark().Str("storage").Str("torch.FloatStorage").Str("0").Str("cpu").Int(2).Op('t').Op('Q').Stop(),
        "storage larger than its record" => new PickleWriter().Proto().Tensor("FloatStorage", "0", 1_000_000_000, 0, [1_000_000_000], [1]).Stop(),
        "view outside its storage" => new PickleWriter().Proto().Tensor("FloatStorage", "0", 2, 1, [4], [1]).Stop(),
        "stride outside its storage" => new PickleWriter().Proto().Tensor("FloatStorage", "0", 2, 0, [2, 2], [1_000_000, 1]).Stop(),
        "overflowing shape" => new PickleWriter().Proto().Tensor("FloatStorage", "0", 2, 0, [long.MaxValue, 4], [1, 1]).Stop(),
        "truncated pickle" => new PickleWriter().Proto().Op('}').Str("w").Stop()[..^3],
        "length past the end" => new PickleWriter().Proto().Op('X').Raw([0xff, 0xff, 0xff, 0x7f]).Stop(),
        _ => throw new ArgumentException(kind),
    };

    public static TheoryData<string, string> HostilePickles => new()
    {
        { "GLOBAL os.system", "GLOBAL os.system is not allowed" },
        { "GLOBAL posix.system", "GLOBAL posix.system is not allowed" },
        { "GLOBAL nt.system", "GLOBAL nt.system is not allowed" },
        { "GLOBAL builtins.eval", "GLOBAL builtins.eval is not allowed" },
        { "GLOBAL builtins.exec", "GLOBAL builtins.exec is not allowed" },
        { "GLOBAL __builtin__.eval", "GLOBAL __builtin__.eval is not allowed" },
        { "GLOBAL subprocess.Popen", "GLOBAL subprocess.Popen is not allowed" },
        { "GLOBAL torch.load", "GLOBAL torch.load is not allowed" },
        { "GLOBAL torch._utils._rebuild_from_type_v2", "GLOBAL torch._utils._rebuild_from_type_v2 is not allowed" },
        { "STACK_GLOBAL os.system", "STACK_GLOBAL os.system is not allowed" },
        { "STACK_GLOBAL builtins.exec", "STACK_GLOBAL builtins.exec is not allowed" },
        { "INST os.system", "INST os.system is not allowed" },
        { "INST collections.OrderedDict", "INST of collections.OrderedDict is not allowed" },
        { "OBJ collections.OrderedDict", "OBJ on collections.OrderedDict is not allowed" },
        { "NEWOBJ collections.OrderedDict", "NEWOBJ on collections.OrderedDict is not allowed" },
        { "NEWOBJ_EX collections.OrderedDict", "NEWOBJ_EX on collections.OrderedDict is not allowed" },
        { "REDUCE on a storage class", "REDUCE on torch.FloatStorage is not allowed" },
        { "REDUCE on a string", "REDUCE on the string 'os.system' is not allowed" },
        { "BUILD on a tensor", "BUILD on a tensor is not allowed" },
        { "BUILD on a list", "BUILD on a list is not allowed" },
        { "EXT1", "extension-registry opcodes" },
        { "persistent id outside the archive", "persistent id names storage '../../evil'" },
        { "persistent id of a missing record", "the archive has no record archive/data/9" },
        { "persistent id that is not a storage", "persistent id the string 'os.system' is not ('storage'" },
        { "persistent id with a foreign class", "persistent id with storage type the string 'torch.FloatStorage'" },
        { "storage larger than its record", "storage '0' declares 1000000000 × 4 = 4000000000 bytes but its record has 8" },
        { "view outside its storage", "reads element 4 of storage '0', which has 2" },
        { "stride outside its storage", "reads element 1000001 of storage '0', which has 2" },
        { "overflowing shape", "overflows" },
        { "truncated pickle", "truncated (no STOP)" },
        { "length past the end", "runs past the end of the pickle" },
    };

    [Theory]
    [MemberData(nameof(HostilePickles))]
    public void HostilePicklesAreRefusedInOneLineAndNothingRuns(string kind, string expected)
    {
        string path = Path.Combine(_dir, "hostile.pt");
        PyTorchZipTests.WriteArchive(path, Payload(kind), ("0", tensor(new[] { 1f, 2f })));
        var e = Assert.Throws<CompressException>(() => { using var r = CheckpointFormats.Open(path); });
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), e.Message);
        Assert.StartsWith(path + ":", e.Message);
        Assert.False(File.Exists(_canary), "the payload ran");
    }

    [Theory]
    [InlineData("../../evil")]
    [InlineData("/etc/passwd")]
    [InlineData("archive/../../evil")]
    [InlineData("archive\\..\\evil")]
    [InlineData("C:/evil")]
    public void PathTraversalEntryNamesAreRefused(string name)
    {
        string path = Path.Combine(_dir, "traversal.pt");
        using (var fs = File.Create(path))
        {
            var zip = new StoredZipWriter(fs);
            zip.Add("archive/data.pkl", new PickleWriter().Proto().EmptyOrderedDict().Stop());
            zip.Add(name, "x"u8);
            zip.Finish();
        }
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(path).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("path traversal refused", e.Message);
    }

    [Fact]
    public void ZipBombsAreRefusedBeforeInflating()
    {
        // 64 MiB of zeros deflates to ~64 KiB: a ratio of ~1000:1.
        string path = Path.Combine(_dir, "bomb.pt");
        using (var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(new PickleWriter().Proto().EmptyOrderedDict().Stop());
            using var d = zip.CreateEntry("archive/data/0", CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 64; i++) d.Write(zeros);
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(path).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("zip bomb refused", e.Message);

        // A stored record whose central directory claims 2 GiB: more than the file holds.
        string liar = Path.Combine(_dir, "liar.pt");
        PyTorchZipWriter.Write(liar, [("w", tensor(new[] { 1f, 2f }))]);
        var bytes = File.ReadAllBytes(liar);
        int cd = bytes.AsSpan().LastIndexOf("PK\x01\x02"u8);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(cd + 20), 0x7fffffff);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(cd + 24), 0x7fffffff);
        File.WriteAllBytes(liar, bytes);
        var e2 = Assert.Throws<CompressException>(() => CheckpointFormats.Open(liar).Dispose());
        Assert.DoesNotContain('\n', e2.Message);
        Assert.Contains("more than the file's", e2.Message);
    }

    [Fact]
    public void OverlappingEntriesAreRefused()
    {
        // The overlapping-entry zip bomb: several central-directory records pointing at the same local data.
        string path = Path.Combine(_dir, "overlap.pt");
        using (var fs = File.Create(path))
        {
            var zip = new StoredZipWriter(fs);
            zip.Add("archive/data.pkl", new PickleWriter().Proto().EmptyOrderedDict().Stop());
            zip.Add("archive/data/0", new byte[4096]);
            zip.Finish();
        }
        var bytes = File.ReadAllBytes(path);
        int eocd = bytes.AsSpan().LastIndexOf("PK\x05\x06"u8);
        int cdStart = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(eocd + 16));
        int second = bytes.AsSpan(cdStart + 4).IndexOf("PK\x01\x02"u8) + cdStart + 4;
        var record = bytes[second..eocd];
        var copies = new List<byte>(bytes[..eocd]);
        for (char c = '1'; c <= '3'; c++)
        {
            var copy = (byte[])record.Clone();
            copy[46 + "archive/data/".Length] = (byte)c;
            copies.AddRange(copy);
        }
        var end = bytes[eocd..];
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(8), 5);
        BinaryPrimitives.WriteUInt16LittleEndian(end.AsSpan(10), 5);
        BinaryPrimitives.WriteUInt32LittleEndian(end.AsSpan(12), (uint)(copies.Count - cdStart));
        copies.AddRange(end);
        File.WriteAllBytes(path, copies.ToArray());
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(path).Dispose());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("they overlap (zip bomb refused)", e.Message);
    }

    [Fact]
    public void TruncatedArchivesAndLegacyFilesFailInOneLine()
    {
        string good = Path.Combine(_dir, "good.pt");
        PyTorchZipWriter.Write(good, [("w", randn(64, 64))]);
        var bytes = File.ReadAllBytes(good);
        string cut = Path.Combine(_dir, "cut.pt");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CompressException>(() => CheckpointFormats.Open(cut).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("truncated or corrupt", e.Message);

        string legacy = Path.Combine(_dir, "legacy.pt");
        File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
        var l = Assert.Throws<CompressException>(() => CheckpointFormats.Open(legacy).Dispose());
        Assert.Contains("legacy pre-1.6 format", l.Message);

        string notTorch = Path.Combine(_dir, "other.zip");
        using (var zip = new ZipArchive(File.Create(notTorch), ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("docs/readme.txt").Open()) s.Write("hello"u8);
        var n = Assert.Throws<CompressException>(() => CheckpointFormats.Open(notTorch).Dispose());
        Assert.Contains("no PREFIX/data.pkl", n.Message);
    }
}
