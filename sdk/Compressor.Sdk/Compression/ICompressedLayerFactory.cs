using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Sdk.Compression;

/// <summary>Rebuilds an empty compressed layer of one kind from its manifest config; the checkpoint's tensors are
/// then loaded into it by name.</summary>
public interface ICompressedLayerFactory
{
    /// <summary>The layer kind id this factory builds.</summary>
    string Kind { get; }

    /// <summary>Creates the layer with correctly shaped (uninitialised) tensors.</summary>
    /// <exception cref="CompressException">A malformed config.</exception>
    torch.nn.Module Create(JObject config);
}
