using Compressor.Engine.IO;
using Google.Protobuf;
using Onnx;

namespace Compressor.Engine.Onnx.Export;

/// <summary>Moves initializer bytes into a side file (ONNX external data): each moved tensor gets
/// <c>data_location = EXTERNAL</c> and <c>location</c> (the side file's name, relative to the model), <c>offset</c>
/// and <c>length</c> entries, and loses its <c>raw_data</c>. Offsets are aligned to 64 bytes (ORT can then map the
/// data directly); tensors are written in graph order, so the side file is deterministic too.</summary>
internal static class ExternalData
{
    public const int Alignment = 64;

    public static void Write(GraphProto graph, string dataPath, long minimumBytes)
    {
        string location = Path.GetFileName(dataPath);
        AtomicFile.Write(dataPath, stream =>
        {
            long offset = 0;
            foreach (var t in graph.Initializer)
            {
                if (t.RawData.Length < minimumBytes) continue;
                long padding = (Alignment - offset % Alignment) % Alignment;
                if (padding > 0) stream.Write(new byte[padding]);
                offset += padding;
                t.RawData.WriteTo(stream);
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = t.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                offset += t.RawData.Length;
                t.RawData = ByteString.Empty;
            }
        });
    }
}
