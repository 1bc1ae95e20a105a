using System.Collections.Concurrent;
using Compressor.Sdk.Onnx.Export.Emitters;
using static TorchSharp.torch;

namespace Compressor.Sdk.Onnx.Export;

/// <summary>The leaf-module emitters the exporter knows: the SDK's own (linear, conv2d, embedding, ReLU, GELU, tanh,
/// sigmoid, SiLU, layer norm, dropout, identity, flatten) and those plugins register. The last registered emitter
/// that accepts a module wins, so a plugin can override a built-in one.</summary>
public static class OnnxModuleEmitters
{
    private static readonly ConcurrentStack<IOnnxModuleEmitter> Emitters = new();

    static OnnxModuleEmitters()
    {
        Register(new LinearEmitter());
        Register(new Conv2dEmitter());
        Register(new EmbeddingEmitter());
        Register(new ActivationEmitter());
        Register(new LayerNormEmitter());
        Register(new IdentityEmitter());
        Register(new FlattenEmitter());
    }

    /// <summary>Adds an emitter; it takes precedence over those registered before it.</summary>
    public static void Register(IOnnxModuleEmitter emitter) => Emitters.Push(emitter);

    /// <summary>The emitter for <paramref name="module"/>, or null.</summary>
    public static IOnnxModuleEmitter? Find(nn.Module module) => Emitters.FirstOrDefault(e => e.CanEmit(module));
}
