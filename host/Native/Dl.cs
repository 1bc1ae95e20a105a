using System.Runtime.InteropServices;

namespace Compressor.Host.Native;

/// <summary>glibc's dynamic loader, called directly so that a failure comes back as the loader's own message
/// (<c>libcudnn.so.9: cannot open shared object file</c>, <c>undefined symbol: _ZN…</c>) and so that a library can be
/// loaded with every symbol resolved up front (<see cref="Now"/>): .NET's <c>NativeLibrary</c> binds lazily, and a
/// symbol that does not resolve then ends the process at its first call. Handles are the ones <c>NativeLibrary</c>
/// uses on Linux, so they can be returned from a <c>DllImportResolver</c>.</summary>
internal static class Dl
{
    /// <summary>RTLD_LAZY: functions bound at their first call.</summary>
    public const int Lazy = 0x0001;

    /// <summary>RTLD_NOW: every undefined symbol bound at load; a missing one fails the load.</summary>
    public const int Now = 0x0002;

    /// <summary>Loads <paramref name="path"/>; returns the handle, or zero and the loader's message.</summary>
    public static IntPtr Open(string path, int mode, out string? error)
    {
        dlerror();   // clear a stale message
        var handle = dlopen(path, mode);
        error = handle == IntPtr.Zero ? Marshal.PtrToStringUTF8(dlerror()) ?? "unknown dynamic loader error" : null;
        return handle;
    }

    // libdl.so.2 exports these on every glibc (a compatibility stub forwarding to libc.so.6 since glibc 2.34).
    [DllImport("libdl.so.2")]
    private static extern IntPtr dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libdl.so.2")]
    private static extern IntPtr dlerror();
}
