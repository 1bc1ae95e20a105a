using static TorchSharp.torch;

namespace Compressor.Engine.Models;

/// <summary>Builds modules on the CPU whatever TorchSharp's default device is (TorchSharp's module constructors and
/// tensor factories use the default device when none is named). Code that builds a module on purpose on the CPU and
/// then moves it (<see cref="EngineModel.FrozenCopy"/>: build, copy the tensors, move to the model's device) says so
/// with this, rather than relying on the default. The engine works on one thread; the default device is restored
/// however the build ends.</summary>
internal static class CpuConstruction
{
    /// <summary>Runs <paramref name="build"/> with the default device set to the CPU.</summary>
    public static T Run<T>(Func<T> build)
    {
        var previous = get_default_device();
        if (previous.type == TorchSharp.DeviceType.CPU) return build();
        set_default_device(CPU);
        try { return build(); }
        finally { set_default_device(previous); }
    }
}
