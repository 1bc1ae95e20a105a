using System.IO.Compression;
using Compressor.Engine.Data;
using Compressor.Engine.IO;
using Compressor.Engine.Plugins;

namespace Compressor.Engine.Tests.Hostile;

/// <summary>Issue 22, case 3: reads are bounded by the bytes actually read and only regular files are read. Before,
/// <c>--data text:/dev/zero</c> (also <c>sentences:</c>, <c>vocab=</c>) ran out of memory (the size cap trusted the
/// file's length), a <c>plugin.json</c> linking to /dev/zero crashed the catalog and a FIFO hung it, and an 8.7 MB
/// gzip IDX whose header said 2 MB inflated 2 GB.</summary>
public sealed class BoundedReadTests : IDisposable
{
    private readonly HostileFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("text:/dev/zero")]
    [InlineData("sentences:/dev/zero")]
    public void DevZeroIsRefusedAsData(string spec)
    {
        var e = HostileFiles.Refused(() => DataSources.Open(spec, 0).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("character device", e.Message);
    }

    [Fact]
    public void FifosAreRefusedWithoutBlocking()
    {
        string fifo = HostileFiles.Fifo(Path.Combine(_files.Root, "data.fifo"));
        Assert.Contains("FIFO", HostileFiles.Refused(() => DataSources.Open("text:" + fifo, 0).Dispose(), 20).Message);
        Assert.Contains("FIFO", HostileFiles.Refused(() => DataSources.Open("sentences:" + fifo, 0).Dispose(), 20).Message);
        Assert.Contains("FIFO", HostileFiles.Refused(() => PluginManifest.Read(fifo), 20).Message);
        Assert.Contains("FIFO", HostileFiles.Refused(() => InputFiles.ReadAllBytes(fifo, 10), 20).Message);
    }

    [Fact]
    public void AVocabularyThatIsADeviceOrBinaryIsAOneLineError()
    {
        string text = _files.File("s.txt", System.Text.Encoding.UTF8.GetBytes(string.Join("\n", Enumerable.Range(0, 20).Select(i => $"This is sentence number {i} here."))));
        var zero = HostileFiles.Refused(() => DataSources.Open($"sentences:{text},vocab=/dev/zero", 0).Dispose());
        Assert.Contains("character device", zero.Message);
        string binary = _files.File("vocab.bin", [0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x0a, 0x03, 0x00]);
        var e = HostileFiles.Refused(() => DataSources.Open($"sentences:{text},vocab={binary}", 0).Dispose());
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("not a WordPiece vocabulary", e.Message);
    }

    [Fact]
    public void AManifestLinkedToDevZeroIsRefusedNotRead()
    {
        string dir = _files.Dir("plugin");
        HostileFiles.Link(Path.Combine(dir, "plugin.json"), "/dev/zero");
        var e = HostileFiles.Refused(() => PluginManifest.Read(Path.Combine(dir, "plugin.json")));
        Assert.Equal(ErrorKind.PluginUnavailable, e.Kind);
        // A regular manifest over the size limit is refused after reading at most the limit.
        string big = _files.File("big/plugin.json", new byte[PluginManifest.MaxBytes + 1]);
        Assert.Contains("larger than", HostileFiles.Refused(() => PluginManifest.Read(big)).Message);
    }

    [Fact]
    public void ReadAllBytesCountsWhatItReads()
    {
        string f = _files.File("ten.bin", new byte[10]);
        Assert.Equal(10, InputFiles.ReadAllBytes(f, 10).Length);
        Assert.Contains("larger than", Assert.Throws<CompressException>(() => InputFiles.ReadAllBytes(f, 9)).Message);
        Assert.Equal(FileTypeKind.CharacterDevice, FileType.Of("/dev/zero"));
        Assert.Equal(FileTypeKind.Regular, FileType.Of(f));
        Assert.Equal(FileTypeKind.Directory, FileType.Of(_files.Root));
        Assert.Equal(FileTypeKind.Missing, FileType.Of(Path.Combine(_files.Root, "nope")));
    }

    [Fact]
    public void AGzipIdxInflatesOnlyAsFarAsItsHeaderDeclares()
    {
        // Header: 2 × 1000 × 1000 bytes (2 MB); the gzip stream inflates to 200 MB of zeros.
        string path = Path.Combine(_files.Root, "bomb-idx3-ubyte.gz");
        using (var fs = File.Create(path))
        using (var gz = new GZipStream(fs, CompressionLevel.SmallestSize))
        {
            gz.Write([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0x03, 0xE8, 0, 0, 0x03, 0xE8]);
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 200; i++) gz.Write(zeros);
        }
        Assert.True(new FileInfo(path).Length < 1 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = HostileFiles.Refused(() => IdxReader.ReadBytes(path).Dispose());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("the file has more", e.Message);
        Assert.True(allocated < 16 << 20, $"allocated {allocated >> 20} MiB for a header declaring 2 MB");
    }
}
