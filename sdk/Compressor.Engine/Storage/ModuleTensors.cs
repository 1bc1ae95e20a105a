using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Storage;

/// <summary>Copies a checkpoint's tensors into a module's parameters and buffers by name.</summary>
public static class ModuleTensors
{
    /// <summary>Copies every parameter and buffer of <paramref name="module"/> from the file, by name. With
    /// <paramref name="strict"/>, a tensor the file lacks or a tensor the module lacks is an error.</summary>
    /// <param name="module">The module to fill.</param>
    /// <param name="reader">The checkpoint.</param>
    /// <param name="strict">Whether the names must match exactly.</param>
    /// <param name="convert">Converts a tensor of the file to the module's layout (a foreign checkpoint), or null.</param>
    /// <param name="redundant">Names of file tensors the module does not keep and that strictness ignores, or null.</param>
    /// <exception cref="CompressException">Missing, extra or mismatching tensors, in one line.</exception>
    public static void Load(nn.Module module, ICheckpointReader reader, bool strict,
        Func<string, Tensor, Tensor>? convert = null, Func<string, bool>? redundant = null)
    {
        var state = module.state_dict();
        CheckNames(state, reader, strict, redundant);
        var entries = reader.Tensors.ToDictionary(e => e.Name);
        using var noGrad = no_grad();
        foreach (var (name, target) in state)
        {
            if (!reader.Contains(name)) continue;
            var entry = entries[name];
            if (convert is null && !entry.Shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{reader.Path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], the model expects [{string.Join(", ", target.shape)}]");
            using var read = reader.Read(name);
            using var t = convert is null ? read.alias() : convert(name, read);
            if (!t.shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{reader.Path}: tensor '{name}' has shape [{string.Join(", ", t.shape)}] (in this model's layout), the model expects [{string.Join(", ", target.shape)}]");
            if (t.dtype != target.dtype && (t.dtype.IsFloatingPoint() != target.dtype.IsFloatingPoint()))
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: tensor '{name}' is {entry.DType}, the model expects {target.dtype}");
            target.copy_(t);
        }
    }

    /// <summary>Checks, without reading any data, that <paramref name="module"/> (typically built on the meta device)
    /// declares the tensors the file holds: with <paramref name="strict"/> the same names, and for every name both
    /// have, the same shape (unless <paramref name="layoutConverted"/>: a foreign checkpoint converted on load).
    /// Returns the bytes the module's tensors take.</summary>
    /// <exception cref="CompressException">Missing, extra or mismatching tensors, in one line.</exception>
    public static long CheckShapes(nn.Module module, ICheckpointReader reader, bool strict, bool layoutConverted = false, Func<string, bool>? redundant = null)
    {
        var state = module.state_dict();
        CheckNames(state, reader, strict, redundant);
        var entries = reader.Tensors.ToDictionary(e => e.Name);
        long bytes = 0;
        foreach (var (name, target) in state)
        {
            long size = target.NumberOfElements * target.ElementSize;
            bytes = size > long.MaxValue - bytes
                ? throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: the model's declared tensors overflow any memory")
                : bytes + size;
            if (layoutConverted || !entries.TryGetValue(name, out var entry)) continue;
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new CompressException(ErrorKind.InvalidInput,
                    $"{reader.Path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}], the model expects [{string.Join(", ", target.shape)}]");
        }
        return bytes;
    }

    private static void CheckNames(IDictionary<string, Tensor> state, ICheckpointReader reader, bool strict, Func<string, bool>? redundant)
    {
        if (strict)
        {
            var missing = state.Keys.Where(k => !reader.Contains(k)).ToList();
            if (missing.Count > 0)
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: missing {missing.Count} tensor(s) the model needs, e.g. '{missing[0]}'");
            var extra = reader.Tensors.Select(e => e.Name).Where(n => !state.ContainsKey(n) && !(redundant?.Invoke(n) ?? false)).ToList();
            if (extra.Count > 0)
                throw new CompressException(ErrorKind.InvalidInput, $"{reader.Path}: {extra.Count} tensor(s) the model does not have, e.g. '{extra[0]}'");
        }
    }
}
