using TorchSharp;

namespace Compressor.Engine.Memory;

/// <summary>Builds modules without memory: inside <see cref="Scope"/>, libtorch's default device is <c>meta</c>, so
/// every tensor a module creates has its shape and type but no storage. The engine builds a model this way first,
/// compares what its architecture (or its checkpoint's metadata) declares with the tensors the file holds, and only
/// then builds it for real — so a few bytes of metadata that declare gigabytes are refused without allocating them.
/// The default device is process-wide: scopes are serialised, and nothing else should create tensors meanwhile.</summary>
public static class MetaDevice
{
    private static readonly Lock Gate = new();

    /// <summary>Whether tensors created now land on the meta device.</summary>
    public static bool IsActive => torch.get_default_device().type == DeviceType.META;

    /// <summary>Makes <c>meta</c> the default device until the scope is disposed.</summary>
    public static IDisposable Scope()
    {
        Gate.Enter();
        var previous = torch.get_default_device();
        try { torch.set_default_device(new torch.Device(DeviceType.META)); }
        catch
        {
            Gate.Exit();
            throw;
        }
        return new Restore(previous);
    }

    private sealed class Restore(torch.Device previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            torch.set_default_device(previous);
            Gate.Exit();
        }
    }
}
