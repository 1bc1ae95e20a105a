using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>What kernels need during one run of an imported graph: the device of the inputs, and the module tree in
/// which replaceable layers are looked up (at every run, so a replaced layer takes effect at once).</summary>
internal sealed class OnnxRunContext
{
    public OnnxRunContext(OnnxModule module, Device device)
    {
        Module = module;
        Device = device;
    }

    public OnnxModule Module { get; }

    public Device Device { get; }

    /// <summary>The current tensor-to-tensor module at <paramref name="path"/>.</summary>
    public nn.Module<Tensor, Tensor> Layer(string path) => Module.ResolveLayer(path);
}
