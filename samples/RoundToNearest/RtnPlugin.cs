using Compressor.Samples.RoundToNearest.Algorithm;
using Compressor.Sdk.Plugins;

namespace Compressor.Samples.RoundToNearest;

/// <summary>The <c>rtn</c> plugin: round-to-nearest integer codes with per-group scales (<see cref="RtnCompressor"/>).
/// Data-free; works on weights-only models. The layer kinds it writes are the layers library's, so its checkpoints
/// reload and export without it.</summary>
public sealed class RtnPlugin : CompressionPlugin<RtnOptions>
{
    /// <inheritdoc/>
    protected override void Run(PluginContext context, RtnOptions options) => RtnCompressor.Run(context, options);
}
