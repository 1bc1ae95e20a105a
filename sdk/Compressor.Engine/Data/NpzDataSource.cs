using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Compressor.Sdk.Data;
using static TorchSharp.torch;

namespace Compressor.Engine.Data;

/// <summary>Arrays from a NumPy <c>.npz</c> file (<c>npz:FILE[,input=NAME][,target=NAME]</c>), keyed by the model's
/// input names: the input is <c>input=</c>, else the first of <c>input_ids</c>, <c>pixel_values</c>, <c>images</c>,
/// <c>input</c>, <c>x</c> present, else the file's first array; the target is <c>target=</c>, else <c>labels</c>,
/// <c>targets</c> or <c>y</c> when present. Arrays are C-ordered little-endian <c>.npy</c> (float32/64 → float32,
/// int32/64 and uint8 → int64 for ids and labels, uint8 images stay as floats 0‥255 only when they are the input,
/// compressed or stored). Float inputs of rank 4 are images (with int64 labels), int64 inputs of rank 2 token ids
/// (with next-token targets, or none for an encoder). The samples are split by a seeded shuffle (<see cref="ShuffledSplits"/>).
/// No object arrays: nothing in the file is executed.</summary>
public static partial class NpzDataSource
{
    /// <summary>The largest array read.</summary>
    public const long MaxArrayBytes = 4L << 30;

    [GeneratedRegex(@"'descr'\s*:\s*'([<>|=])([fiub])(\d+)'.*'fortran_order'\s*:\s*(True|False).*'shape'\s*:\s*\(([\d,\s]*)\)", RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex Header();

    /// <summary>Opens the file.</summary>
    public static DataSplits Open(DataSpec spec, int seed)
    {
        string path = spec.Path!;
        IO.InputFiles.RequireRegular(path);   // missing, a FIFO, a device: one line before the zip reader opens it
        Dictionary<string, Tensor> arrays;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            arrays = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            long total = 0;
            foreach (var entry in zip.Entries.Where(e => e.FullName.EndsWith(".npy", StringComparison.Ordinal)))
            {
                // The arrays together are bounded as one is: many entries cannot add up past what one may hold.
                total += entry.Length;
                if (total > MaxArrayBytes) throw new CompressException(ErrorKind.InvalidInput, $"{path}: its arrays hold more than {MaxArrayBytes} bytes together");
                if (!arrays.TryAdd(entry.FullName[..^4], empty(0)))
                    throw new CompressException(ErrorKind.InvalidInput, $"{path}: array '{entry.FullName[..^4]}' appears twice");
                using var s = entry.Open();
                arrays[entry.FullName[..^4]].Dispose();
                arrays[entry.FullName[..^4]] = ReadNpy(s, entry.Length, $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not an .npz (zip) file ({e.Message})");
        }
        catch (Exception e) when (e is EndOfStreamException or OverflowException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: not a readable .npz file ({e.Message})");
        }
        if (arrays.Count == 0) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no .npy arrays inside");
        string input = spec.Options.TryGetValue("input", out var i) ? i
            : new[] { "input_ids", "pixel_values", "images", "input", "x" }.FirstOrDefault(arrays.ContainsKey) ?? arrays.Keys.First();
        string? target = spec.Options.TryGetValue("target", out var t) ? t : new[] { "labels", "targets", "y" }.FirstOrDefault(arrays.ContainsKey);
        foreach (var name in new[] { input, target }.OfType<string>())
            if (!arrays.ContainsKey(name)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no array '{name}' (arrays: {string.Join(", ", arrays.Keys)})");
        var x = arrays[input];
        var y = target is null ? null : arrays[target].to_type(ScalarType.Int64);
        foreach (var (k, v) in arrays) if (k != input) v.Dispose();
        if (y is not null && y.shape[0] != x.shape[0])
            throw new CompressException(ErrorKind.InvalidInput, $"{path}: '{target}' has {y.shape[0]} samples, '{input}' {x.shape[0]}");
        DataKind kind;
        if (x.is_floating_point()) kind = DataKind.Images;
        else
        {
            x = x.to_type(ScalarType.Int64);
            kind = y is null ? DataKind.Sentences : DataKind.Tokens;
        }
        if (kind == DataKind.Images && x.dim() != 4) throw new CompressException(ErrorKind.InvalidInput, $"{path}: float input '{input}' must be images [N, C, H, W], not of rank {x.dim()}");
        if (kind != DataKind.Images && x.dim() != 2) throw new CompressException(ErrorKind.InvalidInput, $"{path}: integer input '{input}' must be token ids [N, T], not of rank {x.dim()}");
        string dataName = $"npz:{Path.GetFileName(path)}";
        int classes = kind == DataKind.Images && y is not null ? (int)y.max().item<long>() + 1 : 0;
        int vocabulary = kind == DataKind.Images ? 0 : (int)x.max().item<long>() + 1;
        var info = new DataInfo(dataName, kind, x.shape[1..], classes, vocabulary, null);
        return ShuffledSplits.Of(new TensorDataSet(dataName, x, y), spec, seed, info, kind == DataKind.Images ? 256 : 64);
    }

    /// <summary>Reads one <c>.npy</c> array.</summary>
    public static Tensor ReadNpy(Stream s, long length, string what)
    {
        CompressException Bad(string why) => new(ErrorKind.InvalidInput, $"{what}: {why}");
        var magic = new byte[8];
        s.ReadExactly(magic);
        if (magic[0] != 0x93 || Encoding.ASCII.GetString(magic, 1, 5) != "NUMPY") throw Bad("not an .npy array");
        int headerLength;
        if (magic[6] == 1) { var b = new byte[2]; s.ReadExactly(b); headerLength = BitConverter.ToUInt16(b); }
        else { var b = new byte[4]; s.ReadExactly(b); headerLength = (int)Math.Min(BitConverter.ToUInt32(b), int.MaxValue); }
        if (headerLength > 1 << 16) throw Bad("header too large");
        var header = new byte[headerLength];
        s.ReadExactly(header);
        var m = Header().Match(Encoding.Latin1.GetString(header));
        if (!m.Success) throw Bad("unsupported array header (only numeric, non-object dtypes)");
        if (m.Groups[1].Value == ">") throw Bad("big-endian arrays are not supported");
        if (m.Groups[4].Value == "True") throw Bad("Fortran-ordered arrays are not supported");
        long[] shape = m.Groups[5].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int size = int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
        (ScalarType type, bool ok) = (m.Groups[2].Value, size) switch
        {
            ("f", 4) => (ScalarType.Float32, true), ("f", 8) => (ScalarType.Float64, true), ("i", 8) => (ScalarType.Int64, true),
            ("i", 4) => (ScalarType.Int32, true), ("u", 1) => (ScalarType.Byte, true), ("b", 1) => (ScalarType.Bool, true),
            _ => (ScalarType.Float32, false),
        };
        if (!ok) throw Bad($"dtype '{m.Groups[2].Value}{size}' is not supported (float32/64, int32/64, uint8, bool)");
        long count = shape.Aggregate(1L, (a, b) => checked(a * b));
        long bytes = checked(count * size);
        if (bytes > MaxArrayBytes) throw Bad($"{bytes} bytes, more than {MaxArrayBytes}");
        if (length >= 0 && bytes > length) throw Bad($"shape [{string.Join(", ", shape)}] needs {bytes} bytes, the entry holds {length}");
        var data = new byte[bytes];
        s.ReadExactly(data);
        var span = data.AsSpan();
        Tensor flat = type switch
        {
            ScalarType.Float32 => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray()),
            ScalarType.Float64 => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(span).ToArray().Select(v => (float)v).ToArray()),
            ScalarType.Int64 => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray()),
            ScalarType.Int32 => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(span).ToArray().Select(v => (long)v).ToArray()),
            _ => tensor(data.Select(v => (long)v).ToArray()),
        };
        using (flat) return flat.reshape(shape).clone();
    }
}
