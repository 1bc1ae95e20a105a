using Compressor.Sdk.Layers;

namespace Compressor.Host.Pipeline;

/// <summary>The export targets as the command line, recipes and reports write them: <c>size</c> and <c>speed</c>.</summary>
public static class ExportTargets
{
    /// <summary>The accepted names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["size", "speed"];

    /// <summary>Parses <c>size</c> or <c>speed</c> (case-insensitive).</summary>
    public static bool TryParse(string text, out ExportTarget target)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "size": target = ExportTarget.Size; return true;
            case "speed": target = ExportTarget.Speed; return true;
            default: target = ExportTarget.Size; return false;
        }
    }

    /// <summary>The name of <paramref name="target"/>.</summary>
    public static string Name(ExportTarget target) => target == ExportTarget.Speed ? "speed" : "size";

    /// <summary>The option's help text.</summary>
    public const string Help = "What model.onnx is optimised for (recorded in recipe.json): size (default: packed low-bit weights next to float operators) or speed " +
                               "(layers whose inputs are quantized too, e.g. rtn --activation-bits 8 or StatsQ, run on ONNX Runtime's int8 kernels: MatMulIntegerToFloat, " +
                               "DynamicQuantizeMatMul, MatMulInteger, QLinearConv, ConvInteger; layers int8 cannot carry, such as codebooks, are refused with exit code 2; the report names " +
                               "layers that fall back to float and, with --data, the speed-up over the input model).";
}
