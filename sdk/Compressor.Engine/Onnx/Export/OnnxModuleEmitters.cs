using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary>The leaf-module emitters of the exporter, a fixed list of the engine's own: linear, conv2d, embedding,
/// ReLU, GELU, tanh, sigmoid, SiLU, layer norm, dropout, identity, flatten. Modules of other types export through
/// <see cref="IOnnxExportable"/> (containers) or their compressed layer kind's lowering.</summary>
internal static class OnnxModuleEmitters
{
    // Tried in this order; no two accept the same module type.
    private static readonly IOnnxModuleEmitter[] Emitters =
    [
        new FlattenEmitter(), new IdentityEmitter(), new LayerNormEmitter(), new ActivationEmitter(), new EmbeddingEmitter(),
        new Conv2dEmitter(), new LinearEmitter(),
    ];

    /// <summary>The emitter for <paramref name="module"/>, or null.</summary>
    public static IOnnxModuleEmitter? Find(nn.Module module) => Array.Find(Emitters, e => e.CanEmit(module));
}
