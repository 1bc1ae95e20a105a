namespace Compressor.Host.Native;

/// <summary>How a libtorch folder came to be, recognised by what lies around its libraries.</summary>
public enum LibTorchLayout
{
    /// <summary>An extracted libtorch zip from pytorch.org: <c>libtorch/lib</c>, with <c>libtorch/build-version</c>.</summary>
    LibTorchZip,
    /// <summary>A Python PyTorch install: <c>site-packages/torch/lib</c>, with <c>torch/version.py</c> and
    /// <c>site-packages/torch-*.dist-info/METADATA</c>.</summary>
    PythonPackage,
    /// <summary>A NuGet libtorch package: <c>&lt;package&gt;/&lt;version&gt;/runtimes/linux-x64/native</c>, with the package's <c>.nuspec</c>.</summary>
    NuGetPackage,
    /// <summary>A folder of libraries with none of the above around it (the version then comes from
    /// <c>COMPRESS_LIBTORCH_VERSION</c> or the C++ headers).</summary>
    Plain,
}
