using static TorchSharp.torch;

namespace Compressor.Engine.Storage.PyTorch;

// The values the restricted unpickler can build. Nothing here refers to code: a pickle can only describe plain data
// (numbers, strings, bytes, tuples, lists, dicts), references to storages inside the archive, and tensors over them.

/// <summary>A Python tuple.</summary>
internal sealed record PickleTuple(object?[] Items);

/// <summary>A Python dict or <c>collections.OrderedDict</c>, in insertion order.</summary>
internal sealed class PickleDict
{
    private readonly Dictionary<object, int> _index = new();

    /// <summary>Keys and values in insertion order.</summary>
    public List<KeyValuePair<object, object?>> Items { get; } = new();

    /// <summary>Sets <paramref name="key"/> (a later value replaces an earlier one in place, as in Python).</summary>
    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i)) Items[i] = new(key, value);
        else
        {
            _index[key] = Items.Count;
            Items.Add(new(key, value));
        }
    }
}

/// <summary>One of the allowed globals (see <see cref="RestrictedUnpickler.AllowedGlobals"/>).</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A storage of the archive, from a persistent id <c>('storage', torch.XStorage, key, location, numel)</c>,
/// already checked to exist as <c>data/KEY</c> with at least <c>numel × element size</c> bytes.</summary>
internal sealed record StorageRef(string StorageType, ScalarType ScalarType, int ElementSize, string Key, string Location, long ElementCount);

/// <summary>A tensor view over a storage, from <c>torch._utils._rebuild_tensor_v2</c>, already checked to stay inside
/// its storage. No data is read until the tensor is asked for.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Shape, long[] Stride)
{
    /// <summary>Number of elements of the view.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Whether the view is the row-major contiguous layout.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = Shape.Length - 1; i >= 0; i--)
            {
                if (Shape[i] != 1 && Stride[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    /// <summary>Elements of the storage the view spans from <see cref="Offset"/> (0 for an empty view).</summary>
    public long Extent
    {
        get
        {
            if (Shape.Any(d => d == 0)) return 0;
            long last = 0;
            for (int i = 0; i < Shape.Length; i++) last += (Shape[i] - 1) * Stride[i];
            return last + 1;
        }
    }
}
