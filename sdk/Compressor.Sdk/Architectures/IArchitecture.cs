using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Sdk.Architectures;

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
}
