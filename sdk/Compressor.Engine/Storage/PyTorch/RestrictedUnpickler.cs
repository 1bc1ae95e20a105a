using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage.PyTorch;

/// <summary>A pickle reader written for untrusted <c>data.pkl</c> files of <c>torch.save</c> archives. It implements
/// the opcodes of protocols 0–2 (those <c>torch.save</c> emits) plus the framing, memo and STACK_GLOBAL opcodes of
/// protocol 4, builds only plain data (see <c>PickleValues.cs</c>), and never calls, imports or instantiates anything:
/// <list type="bullet">
/// <item>GLOBAL, STACK_GLOBAL and INST name a global; any global outside <see cref="AllowedGlobals"/> is refused on
/// the opcode that names it, before anything else happens.</item>
/// <item>REDUCE is interpreted only for the rebuild functions, <c>collections.OrderedDict</c> and <c>torch.Size</c>;
/// BUILD only sets the attributes of an OrderedDict (PyTorch stores <c>_metadata</c> there); OBJ, INST, NEWOBJ,
/// NEWOBJ_EX, PERSID, the extension registry (EXT1/2/4) and the opcodes of protocol 5 are always refused.</item>
/// <item>Persistent ids (BINPERSID/PERSID) must be <c>('storage', torch.XStorage, key, location, numel)</c>; the
/// resolver confines the key to an entry of the archive and checks its size before any data is touched.</item>
/// <item>Every length is checked against the bytes that remain before allocating, integers are bounded, and the
/// stack, memo and container sizes are bounded by the size of the pickle.</item>
/// </list>
/// Every refusal is a one-line <see cref="CompressException"/> of kind <see cref="ErrorKind.InvalidInput"/>.</summary>
internal sealed class RestrictedUnpickler
{
    /// <summary>The rebuild functions a tensor may be made with.</summary>
    public static readonly IReadOnlySet<string> RebuildFunctions = new HashSet<string>(StringComparer.Ordinal)
    {
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
    };

    /// <summary>The storage classes of persistent ids, with the element type and size each holds.</summary>
    public static readonly IReadOnlyDictionary<string, (ScalarType Type, int Size)> StorageTypes = new Dictionary<string, (ScalarType, int)>(StringComparer.Ordinal)
    {
        ["torch.FloatStorage"] = (ScalarType.Float32, 4), ["torch.DoubleStorage"] = (ScalarType.Float64, 8),
        ["torch.HalfStorage"] = (ScalarType.Float16, 2), ["torch.BFloat16Storage"] = (ScalarType.BFloat16, 2),
        ["torch.LongStorage"] = (ScalarType.Int64, 8), ["torch.IntStorage"] = (ScalarType.Int32, 4),
        ["torch.ShortStorage"] = (ScalarType.Int16, 2), ["torch.CharStorage"] = (ScalarType.Int8, 1),
        ["torch.ByteStorage"] = (ScalarType.Byte, 1), ["torch.BoolStorage"] = (ScalarType.Bool, 1),
    };

    /// <summary>Every global a pickle may name: the rebuild functions, the storage classes,
    /// <c>collections.OrderedDict</c> and <c>torch.Size</c>.</summary>
    public static readonly IReadOnlySet<string> AllowedGlobals = new HashSet<string>(
        RebuildFunctions.Concat(StorageTypes.Keys).Concat(["collections.OrderedDict", "torch.Size"]), StringComparer.Ordinal);

    /// <summary>Resolves a storage persistent id: storage class, key, location, element count.</summary>
    public delegate StorageRef StorageResolver(string storageType, string key, string location, long elementCount);

    /// <summary>The most values a pickle may push (a state dict needs about 25 per tensor), so that a pickle of
    /// millions of tiny opcodes cannot exhaust memory.</summary>
    public const int MaxValues = 16_000_000;

    private const int MaxRank = 16;

    private readonly byte[] _data;
    private readonly string _source;
    private readonly StorageResolver _resolve;
    private readonly Dictionary<long, object?> _memo = new();
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();
    private int _pos;
    private int _opStart;
    private int _pushed;

    /// <summary>Prepares to read <paramref name="data"/>; <paramref name="source"/> names it in errors.</summary>
    public RestrictedUnpickler(byte[] data, string source, StorageResolver resolve)
    {
        _data = data;
        _source = source;
        _resolve = resolve;
    }

    /// <summary>Reads the pickle up to STOP and returns the object it describes.</summary>
    /// <exception cref="CompressException">Unsafe or malformed pickle, in one line.</exception>
    public object? Load()
    {
        while (true)
        {
            _opStart = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                    {
                        byte proto = ReadByte();
                        if (proto > 5) throw Malformed($"unknown pickle protocol {proto}");
                        break;
                    }
                case 0x95: Take(8); break; // FRAME: a length hint, the data follows inline
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Malformed($"STOP with {_stack.Count} values on the stack");
                    return _stack[0];

                // Constants and numbers.
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                case 0x8a: Push(ReadLong(ReadByte())); break; // LONG1
                case 0x8b: // LONG4
                    {
                        int n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
                        if (n < 0 || n > 64) throw Malformed($"LONG4 of {n} bytes (at most 64)");
                        Push(ReadLong(n));
                        break;
                    }
                case (byte)'I': Push(ParseTextInt(ReadLine())); break;
                case (byte)'L': Push(ParseTextInt(ReadLine().TrimEnd('L'))); break;
                case (byte)'F':
                    Push(double.TryParse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : throw Malformed("bad FLOAT"));
                    break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;

                // Strings and bytes.
                case (byte)'X': Push(Utf8(Take(ReadLength(4)))); break;
                case 0x8c: Push(Utf8(Take(ReadByte()))); break;
                case 0x8d: Push(Utf8(Take(ReadLength(8)))); break;
                case (byte)'V': Push(RawUnicodeEscape(ReadLine())); break;
                case (byte)'S': Push(QuotedString(ReadLine())); break;
                case (byte)'T': Push(Take(ReadLength(4)).ToArray()); break;
                case (byte)'U': Push(Take(ReadByte()).ToArray()); break;
                case (byte)'B': Push(Take(ReadLength(4)).ToArray()); break;
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break;
                case 0x8e: Push(Take(ReadLength(8)).ToArray()); break;

                // Containers.
                case (byte)')': Push(new PickleTuple([])); break;
                case (byte)'t': Push(new PickleTuple(PopMark().ToArray())); break;
                case 0x85: Push(new PickleTuple([Pop()])); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b])); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b, c])); break; }
                case (byte)']': Push(new List<object?>()); break;
                case (byte)'l': Push(PopMark()); break;
                case (byte)'a': { var v = Pop(); AsList(Peek(), "APPEND").Add(v); break; }
                case (byte)'e': { var items = PopMark(); AsList(Peek(), "APPENDS").AddRange(items); break; }
                case (byte)'}': Push(new PickleDict()); break;
                case (byte)'d':
                    {
                        var items = PopMark();
                        var d = new PickleDict();
                        SetItems(d, items);
                        Push(d);
                        break;
                    }
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItems(AsDict(Peek(), "SETITEM"), [k, v]); break; }
                case (byte)'u': { var items = PopMark(); SetItems(AsDict(Peek(), "SETITEMS"), items); break; }
                case 0x8f: Push(new List<object?>()); break; // EMPTY_SET: kept as a list
                case 0x90: { var items = PopMark(); AsList(Peek(), "ADDITEMS").AddRange(items); break; }
                case 0x91: Push(PopMark()); break; // FROZENSET

                // Stack and memo.
                case (byte)'(': _marks.Push(_stack.Count); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopMark(); break;
                case (byte)'2': Push(Peek()); break;
                case (byte)'p': _memo[ParseMemoIndex(ReadLine())] = Peek(); break;
                case (byte)'q': _memo[ReadByte()] = Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'g': Push(MemoGet(ParseMemoIndex(ReadLine()))); break;
                case (byte)'h': Push(MemoGet(ReadByte())); break;
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;

                // Globals: refused unless allowed, on the opcode that names them.
                case (byte)'c':
                    {
                        string module = ReadLine(), name = ReadLine();
                        Push(Global(module, name, "GLOBAL"));
                        break;
                    }
                case 0x93: // STACK_GLOBAL
                    {
                        var name = Pop();
                        var module = Pop();
                        if (module is not string m || name is not string n) throw Unsafe("STACK_GLOBAL with a module or name that is not a string");
                        Push(Global(m, n, "STACK_GLOBAL"));
                        break;
                    }
                case (byte)'i': // INST: names a class and instantiates it
                    {
                        string module = ReadLine(), name = ReadLine();
                        var g = Global(module, name, "INST");
                        throw Unsafe($"INST of {g.FullName} is not allowed (nothing is ever instantiated)");
                    }
                case (byte)'o': // OBJ
                    {
                        var items = PopMark();
                        throw Unsafe($"OBJ on {Describe(items.Count > 0 ? items[0] : null)} is not allowed (nothing is ever instantiated)");
                    }
                case 0x81: // NEWOBJ
                    {
                        Pop();
                        throw Unsafe($"NEWOBJ on {Describe(Pop())} is not allowed (nothing is ever instantiated)");
                    }
                case 0x92: // NEWOBJ_EX
                    {
                        Pop(); Pop();
                        throw Unsafe($"NEWOBJ_EX on {Describe(Pop())} is not allowed (nothing is ever instantiated)");
                    }
                case (byte)'R': // REDUCE
                    {
                        var args = Pop();
                        var callable = Pop();
                        Push(Reduce(callable, args));
                        break;
                    }
                case (byte)'b': // BUILD
                    {
                        var state = Pop();
                        var target = Peek();
                        if (target is PickleDict && state is PickleDict or null) break; // OrderedDict attributes (_metadata): ignored
                        throw Unsafe($"BUILD on {Describe(target)} is not allowed (only an OrderedDict's attributes may be set)");
                    }
                case 0x82: case 0x83: case 0x84:
                    throw Unsafe("extension-registry opcodes (EXT1/EXT2/EXT4) are not allowed");
                case 0x96: case 0x97: case 0x98:
                    throw Unsafe("protocol-5 opcodes (BYTEARRAY8, NEXT_BUFFER, READONLY_BUFFER) are not allowed");

                // Persistent ids: storages of the archive only.
                case (byte)'Q': Push(Persistent(Pop())); break;
                case (byte)'P': throw Unsafe("text persistent ids (PERSID) are not allowed; torch.save writes BINPERSID");
                default:
                    throw Malformed($"unknown opcode 0x{op:x2}");
            }
        }
    }

    private PickleGlobal Global(string module, string name, string opcode)
    {
        string full = module + "." + name;
        if (!AllowedGlobals.Contains(full))
            throw Unsafe($"{opcode} {Printable(full)} is not allowed (a checkpoint may only name tensor rebuild functions, storage types, collections.OrderedDict and torch.Size)");
        return new PickleGlobal(module, name);
    }

    private object? Reduce(object? callable, object? args)
    {
        if (callable is not PickleGlobal g) throw Unsafe($"REDUCE on {Describe(callable)} is not allowed (not a callable of the allow-list)");
        if (args is not PickleTuple t) throw Malformed($"REDUCE of {g.FullName} with arguments that are not a tuple");
        var a = t.Items;
        switch (g.FullName)
        {
            case "collections.OrderedDict":
                {
                    var d = new PickleDict();
                    if (a.Length == 0) return d;
                    if (a.Length == 1 && a[0] is List<object?> pairs)
                    {
                        foreach (var p in pairs)
                            if (p is PickleTuple { Items.Length: 2 } kv) SetItems(d, [kv.Items[0], kv.Items[1]]);
                            else throw Malformed("OrderedDict built from something other than (key, value) pairs");
                        return d;
                    }
                    throw Malformed("OrderedDict with unexpected arguments");
                }
            case "torch.Size":
                if (a.Length == 1 && a[0] is PickleTuple dims) return dims;
                throw Malformed("torch.Size with unexpected arguments");
            case "torch._utils._rebuild_tensor_v2":
                // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                if (a.Length is < 6 or > 7) throw Malformed($"_rebuild_tensor_v2 with {a.Length} arguments");
                if (a[5] is not (PickleDict or null)) throw Unsafe($"_rebuild_tensor_v2 with backward hooks {Describe(a[5])}");
                return Tensor(a[0], a[1], a[2], a[3]);
            case "torch._utils._rebuild_tensor":
                if (a.Length != 4) throw Malformed($"_rebuild_tensor with {a.Length} arguments");
                return Tensor(a[0], a[1], a[2], a[3]);
            case "torch._utils._rebuild_parameter":
                // (data, requires_grad, backward_hooks)
                if (a.Length != 3 || a[0] is not TensorRef param) throw Malformed("_rebuild_parameter without a tensor");
                return param;
            default:
                throw Unsafe($"REDUCE on {g.FullName} is not allowed (not a callable)");
        }
    }

    private TensorRef Tensor(object? storage, object? offset, object? size, object? stride)
    {
        if (storage is not StorageRef s) throw Malformed($"tensor over {Describe(storage)} instead of a storage of the archive");
        if (offset is not long off || off < 0) throw Malformed("tensor with a storage offset that is not a non-negative integer");
        var shape = Dims(size, "size");
        var strides = Dims(stride, "stride");
        if (shape.Length != strides.Length) throw Malformed($"tensor with {shape.Length} sizes but {strides.Length} strides");
        var t = new TensorRef(s, off, shape, strides);
        try
        {
            long count = 1, last = 0;
            foreach (var d in shape) count = checked(count * d);
            if (count > 0)
                for (int i = 0; i < shape.Length; i++) last = checked(last + checked((shape[i] - 1) * strides[i]));
            long end = count == 0 ? off : checked(off + last + 1);
            if (count > 0 && end > s.ElementCount)
                throw Unsafe($"tensor of shape [{string.Join(", ", shape)}], stride [{string.Join(", ", strides)}] at offset {off} reads element {end - 1} of storage '{s.Key}', which has {s.ElementCount}");
        }
        catch (OverflowException)
        {
            throw Unsafe($"tensor of shape [{string.Join(", ", shape)}] over storage '{s.Key}' has a size or extent that overflows");
        }
        return t;
    }

    private long[] Dims(object? value, string what)
    {
        if (value is not PickleTuple t) throw Malformed($"tensor {what} is not a tuple");
        if (t.Items.Length > MaxRank) throw Malformed($"tensor of rank {t.Items.Length} (at most {MaxRank})");
        var dims = new long[t.Items.Length];
        for (int i = 0; i < dims.Length; i++)
            dims[i] = t.Items[i] is long v && v >= 0 ? v : throw Malformed($"tensor {what} holds {Describe(t.Items[i])}, not a non-negative integer");
        return dims;
    }

    private StorageRef Persistent(object? pid)
    {
        if (pid is not PickleTuple { Items: [string kind, var type, string key, string location, long numel] } || kind != "storage")
            throw Unsafe($"persistent id {Describe(pid)} is not ('storage', type, key, location, numel)");
        if (type is not PickleGlobal g || !StorageTypes.ContainsKey(g.FullName))
            throw Unsafe($"persistent id with storage type {Describe(type)}");
        if (numel < 0) throw Malformed($"storage '{Printable(key)}' with {numel} elements");
        return _resolve(g.FullName, key, location, numel);
    }

    private void SetItems(PickleDict d, List<object?> items)
    {
        if (items.Count % 2 != 0) throw Malformed("odd number of items for a dict");
        for (int i = 0; i < items.Count; i += 2)
        {
            var key = items[i] switch
            {
                string or long or bool or double => items[i]!,
                _ => throw Malformed($"dict key {Describe(items[i])} (only strings and numbers are allowed)"),
            };
            d.Set(key, items[i + 1]);
        }
    }

    private List<object?> AsList(object? o, string op) => o as List<object?> ?? throw Malformed($"{op} on {Describe(o)}");

    private PickleDict AsDict(object? o, string op) => o as PickleDict ?? throw Malformed($"{op} on {Describe(o)}");

    private object? MemoGet(long index) => _memo.TryGetValue(index, out var v) ? v : throw Malformed($"memo index {index} was never stored");

    private void Push(object? value)
    {
        if (++_pushed > MaxValues) throw Malformed($"more than {MaxValues} values (refused to protect memory)");
        _stack.Add(value);
    }

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Malformed("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        return _stack.Count > floor ? _stack[^1] : throw Malformed("stack underflow");
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Malformed("no MARK on the stack");
        int m = _marks.Pop();
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Malformed("truncated (no STOP)");

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Malformed($"a length of {n} bytes runs past the end of the pickle ({_data.Length - _pos} left)");
        var s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private long ReadLength(int bytes)
    {
        ulong n = bytes == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Take(4)) : BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
        return n <= int.MaxValue ? (long)n : throw Malformed($"a length of {n} bytes");
    }

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 4096) throw Malformed("unterminated or overlong text argument");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private object ReadLong(int n)
    {
        var bytes = Take(n);
        var big = new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
    }

    private object ParseTextInt(string s)
    {
        if (s == "00") return false;
        if (s == "01") return true;
        if (s.Length > 64 || !BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)) throw Malformed("bad INT/LONG");
        return v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
    }

    private long ParseMemoIndex(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : throw Malformed("bad memo index");

    private string Utf8(ReadOnlySpan<byte> bytes)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { throw Malformed("a string that is not valid UTF-8"); }
    }

    private string RawUnicodeEscape(string s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 5 < s.Length && s[i + 1] == 'u' && int.TryParse(s.AsSpan(i + 2, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int cp))
            {
                sb.Append((char)cp);
                i += 5;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private string QuotedString(string s)
    {
        if (s.Length < 2 || s[0] != s[^1] || (s[0] != '\'' && s[0] != '"')) throw Malformed("bad STRING");
        var body = s[1..^1];
        if (body.Contains('\\')) throw Malformed("escaped text STRING arguments are not supported");
        return body;
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PickleGlobal g => g.FullName,
        string s => $"the string '{Printable(s)}'",
        long => "an integer",
        BigInteger => "an integer beyond 64 bits",
        bool => "a bool",
        double => "a float",
        byte[] => "bytes",
        PickleTuple t => $"a tuple of {t.Items.Length}",
        List<object?> => "a list",
        PickleDict => "a dict",
        StorageRef s => $"storage '{s.Key}'",
        TensorRef => "a tensor",
        _ => o.GetType().Name,
    };

    /// <summary>Text from the file, cut short and stripped of control characters, so that errors stay one line.</summary>
    internal static string Printable(string s)
    {
        var clean = new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length <= 80 ? clean : clean[..80] + "…";
    }

    private CompressException Unsafe(string what) => new(ErrorKind.InvalidInput, $"{_source}: unsafe pickle refused at byte {_opStart}: {what}");

    private CompressException Malformed(string what) => new(ErrorKind.InvalidInput, $"{_source}: malformed pickle at byte {_opStart}: {what}");
}
