using Compressor.Sdk;
using Compressor.Sdk.Layers;

namespace Compressor.Layers.Codebook;

/// <summary>Codebook layers have no integer-kernel form: their weights are looked up in tables of arbitrary float16
/// values, which no int8 grid carries exactly, and their inputs are float. A <see cref="ExportTarget.Speed"/> export
/// refuses them (exit code 2) rather than write a model that is not what was asked for.</summary>
internal static class CodebookSpeedCheck
{
    /// <summary>Throws for a speed export.</summary>
    /// <exception cref="CompressException">Kind <see cref="ErrorKind.InvalidOptions"/>, naming the layer and the nearest option.</exception>
    public static void Refuse(ILoweringContext context, CodebookLayer layer)
    {
        if (context.Target != ExportTarget.Speed) return;
        throw new CompressException(ErrorKind.InvalidOptions,
            $"--target speed: layer '{context.LayerName}' is a codebook layer ({layer.IndexBits}-bit indices into float16 codebooks), whose values int8 cannot carry exactly; " +
            "nearest options: export it with --target size, or quantize it with rtn --weight-bits 8 --group-size 0 --activation-bits 8 to run it on int8 kernels");
    }
}
