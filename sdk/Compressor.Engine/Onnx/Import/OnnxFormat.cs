using Compressor.Engine.Storage;

namespace Compressor.Engine.Onnx.Import;

/// <summary>ONNX models (protobuf <c>ModelProto</c>): their initializers are the checkpoint's tensors, and
/// <c>Compressor.Engine.Checkpoints.ModelIO.Load</c> imports the graph as an executable model. Recognised by a protobuf walk of the first
/// bytes that meets only <c>ModelProto</c> fields with their wire types, starting with one of the fields exporters
/// write first (<c>ir_version</c>, <c>producer_name</c>, <c>graph</c>, <c>opset_import</c>).</summary>
public sealed class OnnxFormat : ICheckpointFormat
{
    // ModelProto field number → wire type (0 varint, 2 length-delimited).
    private static readonly Dictionary<int, int> Fields = new()
    {
        [1] = 0, [2] = 2, [3] = 2, [4] = 2, [5] = 0, [6] = 2, [7] = 2, [8] = 2, [14] = 2, [20] = 2, [25] = 2,
    };

    /// <inheritdoc/>
    public string Name => "onnx";

    /// <inheritdoc/>
    public bool Sniff(ReadOnlySpan<byte> head, long length)
    {
        if (head.Length < 2) return false;
        int pos = 0, fields = 0;
        while (pos < head.Length)
        {
            if (!TryVarint(head, ref pos, out ulong key)) return fields > 0;
            if (key >> 3 > 536_870_911) return false;   // beyond protobuf's largest field number (2^29 − 1): not ONNX
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (!Fields.TryGetValue(field, out int expected) || expected != wire) return false;
            if (fields == 0 && field is not (1 or 2 or 7 or 8)) return false;
            if (!TryVarint(head, ref pos, out ulong value)) return true;
            if (wire == 2)
            {
                if (value > (ulong)length) return false;
                if (pos + (long)value > head.Length) return true;
                pos += (int)value;
            }
            else if (field == 1 && value > 100) return false;
            fields++;
        }
        return fields > 0;
    }

    /// <inheritdoc/>
    public ICheckpointReader Open(string path) => OnnxCheckpointReader.Open(path);

    private static bool TryVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && pos < data.Length; shift += 7)
        {
            byte b = data[pos++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return true;
        }
        return false;
    }
}
