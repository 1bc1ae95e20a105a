using System.Globalization;
using System.Text;
using Compressor.Engine.IO;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>Writes state dicts in the layout <c>torch.save(model.state_dict(), f)</c> produces (PyTorch 1.6 to 2.x,
/// zip serialization), atomically, so that files made here load in PyTorch and PyTorch's files can be reproduced
/// byte for byte in tests.
/// <para>Layout: a zip archive (see <c>StoredZipWriter</c>: stored, data aligned to 64 bytes) with the records, in
/// this order,</para>
/// <list type="number">
/// <item><c>archive/data.pkl</c>: a protocol-2 pickle of <c>collections.OrderedDict</c> whose values are
/// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())</c>, each storage a
/// persistent id <c>('storage', torch.FloatStorage, '0', 'cpu', numel)</c> (BINPERSID), memoized exactly as CPython's
/// pickler does (see <c>PickleWriter</c>);</item>
/// <item><c>archive/byteorder</c>: <c>little</c>;</item>
/// <item><c>archive/data/KEY</c> for each storage, keys <c>0, 1, …</c> in the order tensors are pickled, records
/// sorted by key as strings: the raw little-endian elements;</item>
/// <item><c>archive/version</c>: <c>3</c> and a newline (the file-format version <c>torch.save</c> writes).</item>
/// </list>
/// PyTorch 2.x adds <c>archive/.data/serialization_id</c> (a random id; left out so the bytes depend only on the
/// tensors) and, in recent releases, <c>.format_version</c>/<c>.storage_alignment</c>; readers do not need them.
/// The state dict's <c>_metadata</c> attribute (per-module versions) is not written: it is module-specific.</summary>
public static class PyTorchZipWriter
{
    /// <summary>The record prefix <c>torch.save</c> uses for buffers and recent releases for files.</summary>
    public const string Prefix = "archive";

    /// <summary>Writes <paramref name="tensors"/> (in order, each with its own storage) to <paramref name="path"/>.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in list)
            if (!seen.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
        using var scope = NewDisposeScope();
        var storages = list.Select(t => (t.Tensor.device_type == TorchSharp.DeviceType.CPU ? t.Tensor : t.Tensor.cpu()).contiguous().flatten()).ToList();
        var views = list.Select((t, i) => (t.Name, i, 0L, t.Tensor.shape, ContiguousStride(t.Tensor.shape))).ToList();
        Write(path, storages, views);
    }

    /// <summary>Writes tensors as views over shared storages: <paramref name="storages"/> are 1-D tensors (key = index),
    /// each view names its storage, element offset, shape and stride, as PyTorch pickles slices, transposes and tied
    /// weights.</summary>
    internal static void Write(string path, IReadOnlyList<Tensor> storages, IReadOnlyList<(string Name, int Storage, long Offset, long[] Shape, long[] Stride)> views)
    {
        var pkl = StateDictPickle(views.Select(v => (v.Name, StorageClass(storages[v.Storage].dtype), v.Storage.ToString(CultureInfo.InvariantCulture),
            storages[v.Storage].numel(), v.Offset, v.Shape, v.Stride)).ToList());
        AtomicFile.Write(path, stream =>
        {
            var zip = new StoredZipWriter(stream);
            zip.Add(Prefix + "/data.pkl", pkl);
            zip.Add(Prefix + "/byteorder", "little"u8);
            foreach (var key in Enumerable.Range(0, storages.Count).Select(i => i.ToString(CultureInfo.InvariantCulture)).Order(StringComparer.Ordinal))
            {
                var t = storages[int.Parse(key, CultureInfo.InvariantCulture)];
                using var c = t.contiguous();
                zip.Add(Prefix + "/data/" + key, c.bytes);
            }
            zip.Add(Prefix + "/version", "3\n"u8);
            zip.Finish();
        });
    }

    /// <summary>The <c>data.pkl</c> of a state dict: an OrderedDict of tensor views, each given by its storage class
    /// (e.g. <c>FloatStorage</c>), storage key and element count, element offset, shape and stride.</summary>
    internal static byte[] StateDictPickle(IReadOnlyList<(string Name, string StorageClass, string Key, long StorageElements, long Offset, long[] Shape, long[] Stride)> views)
    {
        var pickle = new PickleWriter().Proto().EmptyOrderedDict();
        // CPython's _batch_setitems: batches of 1000 items, MARK … SETITEMS, or a lone SETITEM for a batch of one.
        for (int start = 0; start < views.Count; start += 1000)
        {
            int n = Math.Min(1000, views.Count - start);
            if (n > 1) pickle.Mark();
            for (int i = start; i < start + n; i++)
            {
                var (name, storageClass, key, elements, offset, shape, stride) = views[i];
                pickle.Str(name).Tensor(storageClass, key, elements, offset, shape, stride);
            }
            pickle.Op(n > 1 ? 'u' : 's');
        }
        return pickle.Stop();
    }

    /// <summary>The storage class PyTorch pickles for a tensor of <paramref name="type"/>.</summary>
    /// <exception cref="NotSupportedException">A type without a storage class here (e.g. complex).</exception>
    internal static string StorageClass(ScalarType type) =>
        RestrictedUnpickler.StorageTypes.FirstOrDefault(kv => kv.Value.Type == type).Key?["torch.".Length..]
        ?? throw new NotSupportedException($"tensor element type {type} cannot be stored");

    private static long[] ContiguousStride(long[] shape)
    {
        var stride = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            stride[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return stride;
    }
}
