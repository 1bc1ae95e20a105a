using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Engine.Architectures;

/// <summary>A built-in model architecture whose parameter names match its public ecosystem.</summary>
public interface IArchitecture
{
    /// <summary>The name used by <c>--arch</c> and in checkpoint metadata.</summary>
    string Name { get; }

    /// <summary>One line for help.</summary>
    string Description { get; }

    /// <summary>Fills defaults into a partial config and checks it.</summary>
    /// <exception cref="CompressException">A missing or bad value.</exception>
    JObject Complete(JObject? config);

    /// <summary>Builds a freshly initialised module from a complete config.</summary>
    torch.nn.Module Create(JObject config);

    /// <summary>Converts a tensor of a foreign checkpoint (one in its ecosystem's own layout, not written by
    /// compress) to this module's layout, e.g. Hugging Face GPT-2's Conv1D weights [in, out] to linear [out, in].
    /// Returns the input when no conversion applies (the default).</summary>
    torch.Tensor FromEcosystem(string name, torch.Tensor tensor) => tensor;

    /// <summary>The module tensor name of a foreign checkpoint's tensor <paramref name="name"/>: a wrapper prefix
    /// removed or added (Hugging Face's <c>bert.</c>, GPT-2's <c>transformer.</c>). Default: unchanged.</summary>
    string ToModuleName(string name) => name;

    /// <summary>Whether a foreign checkpoint tensor holds nothing this module keeps (a tied output head, a
    /// precomputed causal-mask buffer), so that loading skips it instead of failing. Default: none.</summary>
    bool IsRedundantEcosystemTensor(string name) => false;
}
