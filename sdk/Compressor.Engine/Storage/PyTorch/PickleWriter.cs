using System.Buffers.Binary;
using System.Text;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>Emits pickle opcodes the way CPython's pickler does at protocol 2: every string, tuple, dict and reduce
/// result is memoized (BINPUT, LONG_BINPUT past 255), a global or a shared string named again is fetched from the
/// memo (BINGET), integers use the smallest of BININT1/BININT2/BININT/LONG1, tuples of up to 3 items use
/// TUPLE1/2/3. Used by <see cref="PyTorchZipWriter"/>, and by tests to hand-build hostile pickles.</summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _s = new();
    private readonly Dictionary<string, int> _shared = new(StringComparer.Ordinal);
    private int _memo;

    /// <summary>PROTO.</summary>
    public PickleWriter Proto(byte protocol = 2) => Op(0x80).Byte(protocol);

    /// <summary>One raw opcode.</summary>
    public PickleWriter Op(byte op) => Byte(op);

    /// <summary>One raw opcode given as a character.</summary>
    public PickleWriter Op(char op) => Byte((byte)op);

    /// <summary>Raw bytes (for hand-built pickles).</summary>
    public PickleWriter Raw(ReadOnlySpan<byte> bytes)
    {
        _s.Write(bytes);
        return this;
    }

    /// <summary>MARK.</summary>
    public PickleWriter Mark() => Op('(');

    /// <summary>BINPUT/LONG_BINPUT of the top of the stack into the next memo slot.</summary>
    public PickleWriter Memoize()
    {
        int i = _memo++;
        if (i < 256) return Op('q').Byte((byte)i);
        Op('r');
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, i);
        return Raw(b);
    }

    /// <summary>GLOBAL module\nname\n, memoized; a global already written is fetched with BINGET.</summary>
    public PickleWriter Global(string module, string name) =>
        Shared("global:" + module + "." + name, () => Op('c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n")));

    /// <summary>BINUNICODE, memoized. With <paramref name="shared"/>, a string written before is fetched with BINGET
    /// (as CPython does for one string object pickled twice, e.g. the literals <c>'storage'</c> and <c>'cpu'</c>).</summary>
    public PickleWriter Str(string s, bool shared = false)
    {
        void Write()
        {
            var b = new UTF8Encoding(false).GetBytes(s);
            Op('X');
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, b.Length);
            Raw(n).Raw(b);
        }
        if (shared) return Shared("str:" + s, Write);
        Write();
        return Memoize();
    }

    /// <summary>An integer in the smallest encoding.</summary>
    public PickleWriter Int(long v)
    {
        Span<byte> b = stackalloc byte[9];
        if (v is >= 0 and <= 0xff) return Op('K').Byte((byte)v);
        if (v is >= 0 and <= 0xffff)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v);
            return Op('M').Raw(b[..2]);
        }
        if (v is >= int.MinValue and <= int.MaxValue)
        {
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            return Op('J').Raw(b[..4]);
        }
        // LONG1: little-endian two's complement, as short as the sign allows.
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        int n = 8;
        while (n > 1 && ((b[n - 1] == 0 && b[n - 2] < 0x80) || (b[n - 1] == 0xff && b[n - 2] >= 0x80))) n--;
        return Op(0x8a).Byte((byte)n).Raw(b[..n]);
    }

    /// <summary>NEWTRUE/NEWFALSE.</summary>
    public PickleWriter Bool(bool v) => Op(v ? (byte)0x88 : (byte)0x89);

    /// <summary>A tuple of integers (EMPTY_TUPLE, TUPLE1/2/3, or MARK … TUPLE), memoized unless empty.</summary>
    public PickleWriter IntTuple(IReadOnlyList<long> items)
    {
        if (items.Count == 0) return Op(')');
        if (items.Count > 3) Mark();
        foreach (var v in items) Int(v);
        return (items.Count switch { 1 => Op(0x85), 2 => Op(0x86), 3 => Op(0x87), _ => Op('t') }).Memoize();
    }

    /// <summary><c>collections.OrderedDict()</c>: GLOBAL, EMPTY_TUPLE, REDUCE, memoized.</summary>
    public PickleWriter EmptyOrderedDict() => Global("collections", "OrderedDict").Op(')').Op('R').Memoize();

    /// <summary>A tensor as <c>Tensor.__reduce_ex__</c> pickles it:
    /// <c>_rebuild_tensor_v2((persistent storage), offset, size, stride, False, OrderedDict())</c>.</summary>
    public PickleWriter Tensor(string storageClass, string key, long storageElements, long offset, IReadOnlyList<long> shape, IReadOnlyList<long> stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2");
        Mark();
        // The persistent id ('storage', torch.XStorage, key, location, numel), then BINPERSID.
        Mark().Str("storage", shared: true).Global("torch", storageClass).Str(key, shared: true).Str("cpu", shared: true).Int(storageElements).Op('t').Memoize();
        Op('Q');
        Int(offset).IntTuple(shape).IntTuple(stride).Bool(false).EmptyOrderedDict();
        return Op('t').Memoize().Op('R').Memoize();
    }

    /// <summary>STOP, and the bytes.</summary>
    public byte[] Stop()
    {
        Op('.');
        return _s.ToArray();
    }

    private PickleWriter Shared(string key, Action write)
    {
        if (_shared.TryGetValue(key, out int i))
        {
            if (i < 256) return Op('h').Byte((byte)i);
            Op('j');
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, i);
            return Raw(b);
        }
        write();
        _shared[key] = _memo;
        return Memoize();
    }

    private PickleWriter Byte(byte b)
    {
        _s.WriteByte(b);
        return this;
    }
}
