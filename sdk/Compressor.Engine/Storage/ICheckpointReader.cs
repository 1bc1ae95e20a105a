using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>Reads the named tensors of a checkpoint file one at a time, after validating its header against the
/// file, so that files larger than memory can be walked. Implemented once per format.</summary>
public interface ICheckpointReader : IDisposable
{
    /// <summary>The file.</summary>
    string Path { get; }

    /// <summary>The format's name (e.g. <c>safetensors</c>).</summary>
    string Format { get; }

    /// <summary>Tensors in file order.</summary>
    IReadOnlyList<CheckpointEntry> Tensors { get; }

    /// <summary>String metadata (safetensors <c>__metadata__</c>; empty where the format has none).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether a tensor of that name exists.</summary>
    bool Contains(string name);

    /// <summary>Reads one tensor into a new CPU tensor.</summary>
    /// <exception cref="CompressException">Missing name, or data that turns out truncated/corrupt.</exception>
    Tensor Read(string name);
}
