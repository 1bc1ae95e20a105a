using Compressor.Plugins.StatsQ.Algorithm.Qat;
using Compressor.Sdk.Data;
using Compressor.Sdk.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Plugins.StatsQ.Algorithm.Training;

/// <summary>Measures how far the QAT rewrite itself moves a model before any training, with every quantizer switched
/// off: the FP model's logits on one evaluation batch are captured before the rewrite and compared with the rewritten
/// model's. Without QKR the rewrite is exact (error ≈ 0); with QKR the reference drops the query/key biases, and of
/// those only the term b_qᵀW_k x_j changes the softmax (the others are constant along the key axis), so the error is
/// what converting a pretrained model with biases costs at the start of QAT (README
/// "Query-key reparameterization (QKR)"). With <c>--keep-query-bias</c> that term is kept and the error returns
/// to ≈ 0.</summary>
public sealed class RewriteProbe : IDisposable
{
    private readonly Tensor _input;
    private readonly Tensor _reference;

    private RewriteProbe(Tensor input, Tensor reference)
    {
        _input = input;
        _reference = reference;
    }

    /// <summary>Captures the logits of <paramref name="model"/> on the first batch of <paramref name="data"/>.</summary>
    public static RewriteProbe Capture(CompressibleModel model, IDataSet data, int batchSize, Device device)
    {
        using var batch = data.Batches(batchSize).First();
        var input = batch.Input.to(device).detach().clone();
        return new RewriteProbe(input, Logits(model, input));
    }

    /// <summary>Relative L2 error of the rewritten model's logits (quantizers off) against the captured ones, and the
    /// share of samples whose top-1 class is unchanged. The quantizers are switched back on afterwards.</summary>
    public (double RelativeError, double Top1Agreement) Compare(CompressibleModel rewritten)
    {
        SetQuantization(rewritten, false);
        try
        {
            using var scope = NewDisposeScope();
            var logits = Logits(rewritten, _input);
            double error = logits.sub(_reference).norm().item<float>() / Math.Max(1e-30, _reference.norm().item<float>());
            double agree = logits.argmax(-1).eq(_reference.argmax(-1)).to_type(ScalarType.Float64).mean().item<double>();
            return (error, agree);
        }
        finally
        {
            SetQuantization(rewritten, true);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _input.Dispose();
        _reference.Dispose();
    }

    private static Tensor Logits(CompressibleModel model, Tensor input)
    {
        bool training = model.Module.training;
        model.Module.eval();
        try
        {
            using var noGrad = no_grad();
            return model.Forward(input).detach();
        }
        finally
        {
            model.Module.train(training);
        }
    }

    /// <summary>Switches every weight and activation quantizer of a QAT rewrite on or off.</summary>
    private static void SetQuantization(CompressibleModel model, bool enabled)
    {
        foreach (var (_, m) in model.NamedModules())
        {
            switch (m)
            {
                case QkrAttention qkr: qkr.QuantizationEnabled = enabled; break;
                case QatConv2d conv: conv.QuantizationEnabled = enabled; break;
                case QatLinear lin:
                    lin.WeightQuantization = enabled;
                    if (lin.Activation is { } a) a.Enabled = enabled;
                    break;
                case QatAttention:
                    throw new InvalidOperationException("RewriteProbe measures QKR rewrites; QatAttention has no FP switch");
            }
        }
    }
}
