using Compressor.Engine.IO;
using Google.Protobuf;
using Onnx;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Moves initializer bytes into a side file (ONNX external data): each moved tensor gets
/// <c>data_location = EXTERNAL</c> and <c>location</c> (the side file's name, relative to the model), <c>offset</c>
/// and <c>length</c> entries, and loses its <c>raw_data</c>. Offsets are aligned to 64 bytes (ORT can then map the
/// data directly); tensors are written in graph order, so the side file is deterministic too. The same
/// <see cref="Writer"/> serves a graph held whole (<see cref="Write"/>) and a streamed export that moves each block's
/// initializers out as soon as the block is emitted: both give the same bytes for the same initializers.</summary>
internal static class ExternalData
{
    public const int Alignment = 64;

    public static void Write(GraphProto graph, string dataPath, long minimumBytes) =>
        AtomicFile.Write(dataPath, stream =>
        {
            var writer = new Writer(stream, Path.GetFileName(dataPath), minimumBytes);
            foreach (var t in graph.Initializer) writer.Move(t);
        });

    /// <summary>The bytes an initializer holds, in the file or in the side file.</summary>
    public static long Length(TensorProto t)
    {
        if (t.DataLocation != TensorProto.Types.DataLocation.External) return t.RawData.Length;
        foreach (var e in t.ExternalData)
            if (e.Key == "length") return long.Parse(e.Value, System.Globalization.CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>Appends initializers to an open side file, in the order they are handed in.</summary>
    public sealed class Writer(Stream stream, string location, long minimumBytes)
    {
        private long _offset;

        /// <summary>Bytes written so far.</summary>
        public long Offset => _offset;

        /// <summary>Moves <paramref name="t"/>'s bytes to the side file when it has at least the minimum.</summary>
        public void Move(TensorProto t)
        {
            if (t.DataLocation == TensorProto.Types.DataLocation.External || t.RawData.Length < minimumBytes) return;
            long padding = (Alignment - _offset % Alignment) % Alignment;
            if (padding > 0) stream.Write(new byte[padding]);
            _offset += padding;
            t.RawData.WriteTo(stream);
            t.DataLocation = TensorProto.Types.DataLocation.External;
            t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
            t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = _offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            _offset += t.RawData.Length;
            t.RawData = ByteString.Empty;
        }
    }
}
