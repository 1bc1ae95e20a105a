using Compressor.Sdk;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity.Algorithm;

/// <summary>Runs a model on one data batch and returns its first output: the model feeds itself the batch
/// (<see cref="CompressibleModel.Feed"/>: one-input models take it as is; encoders get the token ids with their
/// attention mask and token types).</summary>
public static class ModelInputs
{
    /// <summary>The model's first output on <paramref name="input"/>.</summary>
    /// <exception cref="CompressException">A model input the batch cannot provide.</exception>
    public static Tensor Forward(CompressibleModel model, Tensor input)
    {
        if (model.InputNames.Count == 1) return model.Forward(input);
        using var scope = NewDisposeScope();
        var outputs = model.Run(model.Feed(input));
        return outputs[model.OutputNames[0]].MoveToOuterDisposeScope();
    }
}
