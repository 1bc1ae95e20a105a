using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A built-in architecture's root module with several named inputs or outputs (a BERT encoder takes
/// <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> and returns <c>last_hidden_state</c> and
/// <c>pooler_output</c>). <see cref="ArchitectureModel"/> exposes these names and feeds data batches through them; the
/// ONNX graph uses the same names.</summary>
public interface INamedIoModule
{
    /// <summary>The input names, in order; the first one receives a data batch.</summary>
    IReadOnlyList<string> InputNames { get; }

    /// <summary>The output names, in order.</summary>
    IReadOnlyList<string> OutputNames { get; }

    /// <summary>Runs the module on named inputs (missing optional inputs get their defaults) and returns new tensors
    /// owned by the caller.</summary>
    /// <exception cref="CompressException">A required input is missing or has the wrong shape.</exception>
    IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs);
}
