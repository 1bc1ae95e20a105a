using static TorchSharp.torch;

namespace Compressor.Sdk.Models;

/// <summary>A module whose inputs and outputs are named tensors, for models with several inputs or outputs (an
/// imported ONNX graph such as a BERT encoder taking <c>input_ids</c>, <c>attention_mask</c> and
/// <c>token_type_ids</c>). <see cref="CompressibleModel.Run"/> runs it.</summary>
public interface INamedTensorModule
{
    /// <summary>The input names, in the model's order.</summary>
    IReadOnlyList<string> InputNames { get; }

    /// <summary>The output names, in the model's order.</summary>
    IReadOnlyList<string> OutputNames { get; }

    /// <summary>Computes every output from the named inputs. The inputs are not disposed; the outputs are new
    /// tensors owned by the caller (registered in the caller's dispose scope, if any).</summary>
    /// <exception cref="CompressException">An input is missing or has a shape or type the model cannot take.</exception>
    IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs);
}
