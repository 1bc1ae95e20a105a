using Compressor.Sdk;
using Compressor.Sdk.Models;
using static TorchSharp.torch;

namespace Compressor.Plugins.Sparsity;

/// <summary>Runs a model on one data batch and returns its first output: one-input models take the batch as is;
/// BERT-style encoders (inputs <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>) get the token ids,
/// the mask ids ≠ 0 and zero token types, as the sentence data defines them.</summary>
public static class ModelInputs
{
    /// <summary>The model's first output on <paramref name="input"/>.</summary>
    /// <exception cref="CompressException">A multi-input model whose inputs are not the BERT trio.</exception>
    public static Tensor Forward(CompressibleModel model, Tensor input)
    {
        var names = model.InputNames;
        if (names.Count == 1 && model.Module is not INamedTensorModule) return model.Forward(input);
        var feeds = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        foreach (var name in names)
            feeds[name] = name switch
            {
                "input_ids" => input,
                "attention_mask" => input.ne(0).to_type(ScalarType.Int64),
                "token_type_ids" => zeros_like(input),
                _ when names.Count == 1 => input,
                _ => throw new CompressException(ErrorKind.InvalidInput, $"sparsity: cannot feed the model input '{name}' from the data (known: input_ids, attention_mask, token_type_ids)"),
            };
        var outputs = model.Run(feeds);
        var first = outputs[model.OutputNames[0]];
        foreach (var (k, v) in outputs)
            if (!ReferenceEquals(v, first)) v.Dispose();
        return first.MoveToOuterDisposeScope();
    }
}
