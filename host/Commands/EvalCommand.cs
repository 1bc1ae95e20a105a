using System.CommandLine;
using System.Globalization;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Evaluation;
using Compressor.Host.Pipeline;
using Compressor.Host.Results;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;

namespace Compressor.Host.Commands;

/// <summary><c>compress eval MODEL.onnx [--reference OTHER.onnx] --data SPEC [--batch-size N] [--runs N]</c>: task
/// metric, fidelity to the reference, latency and peak memory of an ONNX model on ONNX Runtime.</summary>
public static class EvalCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model to evaluate (e.g. OUT/model.onnx of 'compress run')." };
        var reference = new Option<string?>("--reference", "-r") { Description = "An ONNX model to compare against (e.g. the uncompressed model): fidelity metrics, and its own values measured in the same run." };
        var data = new Option<string>("--data") { Description = "Data set whose evaluation split is used: " + DataSources.Help, Required = true };
        var batch = new Option<int>("--batch-size") { Description = "Samples per batch, for the quality pass and the timed batch.", DefaultValueFactory = _ => 64 };
        var runs = new Option<int>("--runs") { Description = "Timed runs of one batch per model (after 3 warm-up runs); latency is their median and p90.", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "Seed that fixes the data splits (default 0, as 'compress run').", DefaultValueFactory = _ => 0 };
        var limit = CommonOptions.EvalLimit();
        var cmd = new Command("eval", "Evaluate an ONNX model on ONNX Runtime (ORT_ENABLE_ALL, as deployed): accuracy (labelled images) or perplexity (tokens), " +
                                      "cosine / top-1 agreement / KL divergence against --reference, latency (median, p90) and peak memory.");
        cmd.Arguments.Add(model);
        foreach (var o in new Option[] { reference, data, batch, runs, seed, limit }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new EvalRequest(pr.GetValue(model)!, pr.GetValue(reference), pr.GetValue(data)!,
            pr.GetValue(batch), pr.GetValue(runs), pr.GetValue(seed), Compressor.Engine.Runtime.ComputeThreads.Count, pr.GetValue(limit)))));
        return cmd;
    }

    /// <summary>Evaluates and prints the metrics (text table or JSON) on stdout.</summary>
    public static ExitCode Handle(CommandEnvironment env, EvalRequest request)
    {
        var options = new OrtEvaluationOptions { BatchSize = request.BatchSize, Runs = request.Runs, IntraOpThreads = request.Threads ?? Compressor.Engine.Runtime.ComputeThreads.Count, Limit = request.Limit };
        options.Validate();
        foreach (var path in new[] { request.ModelPath, request.ReferencePath })
            if (path is not null) RequireOnnx(path);
        using var data = DataSources.Open(request.Data, request.Seed);
        env.Logger().Info($"evaluating {request.ModelPath}{(request.ReferencePath is null ? "" : $" against {request.ReferencePath}")} on {data.Evaluation.Name}");
        var result = env.Progress().Run(progress => OrtEvaluation.Run(request.ModelPath, request.ReferencePath, data.Evaluation, data.Info.Kind, options, env.Cancellation, progress));
        if (env.Json)
        {
            JsonOutput.Write(env.Out, EvalOutput.Of(result, request.ModelPath, request.ReferencePath));
            return ExitCode.Success;
        }
        bool hasRef = request.ReferencePath is not null;
        env.Out.WriteLine($"model      {request.ModelPath}");
        if (hasRef) env.Out.WriteLine($"reference  {request.ReferencePath}");
        env.Out.WriteLine($"data       {result.Dataset}, {(result.Samples < result.AvailableSamples ? $"{result.Samples} of {result.AvailableSamples} samples (--eval-limit {request.Limit})" : $"{result.Samples} samples")}");
        env.Out.WriteLine($"runtime    ONNX Runtime {result.OrtVersion}, {result.OptimizationLevel}, {result.Latency.IntraOpThreads} intra-op threads; " +
                          $"latency of one batch of {result.Latency.BatchSize} over {result.Latency.Runs} runs after {result.Latency.WarmupRuns} warm-up; " +
                          $"peak memory: {result.PeakMemoryMethod}");
        if (Results.SpeedUp.Of(result.Latency, result.ReferenceLatency) is { } speedUp) env.Out.WriteLine($"speed-up   {speedUp.Describe()}");
        var headers = hasRef ? new[] { "METRIC", "VALUE", "REFERENCE", "UNIT" } : ["METRIC", "VALUE", "UNIT"];
        TextTable.Write(env.Out, headers, result.Metrics.Select(m => hasRef
            ? new[] { m.Name, Format(m.Value), m.Reference is { } r ? Format(r) : "-", m.Unit }
            : [m.Name, Format(m.Value), m.Unit]).ToList());
        return ExitCode.Success;
    }

    /// <summary>Refuses a file that is not an ONNX model, in our words: what it is, and how to get an ONNX model from it.</summary>
    /// <exception cref="CompressException">Missing, a checkpoint, or unrecognised (kind InvalidInput).</exception>
    public static void RequireOnnx(string path)
    {
        var format = CheckpointFormats.Detect(path);
        if (format is { Name: "onnx" }) return;
        throw new CompressException(ErrorKind.InvalidInput, format is null
            ? $"{path} is not an ONNX model (its content is no format compress reads); 'eval' takes the model.onnx that 'compress run' or 'compress export' writes"
            : $"{path} is a {format.Name} checkpoint; 'eval' takes an ONNX model: run 'compress export {path} --out model.onnx' first");
    }

    private static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "F1" : "F4", CultureInfo.InvariantCulture);
}
