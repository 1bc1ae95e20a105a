using System.CommandLine;
using System.Globalization;
using Compressor.Engine.Data;
using Compressor.Host.Pipeline;
using Compressor.Host.Search;
using Compressor.Sdk;

namespace Compressor.Host.Commands;

/// <summary><c>compress search --model M --data D --budget SPEC --keep METRIC&gt;=X --out DIR</c>: the smallest model (or
/// the best one within a budget) that keeps a metric, found across plugins and layers (<see cref="SearchPipeline"/>).</summary>
public static class SearchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var model = new Option<string>("--model", "-m") { Description = "The input checkpoint or ONNX model (as for 'compress run').", Required = true };
        var data = new Option<string>("--data") { Description = "Data: calibration for the plugins, the evaluation split for the metric. " + DataSources.Help, Required = true };
        var budget = new Option<string>("--budget") { Description = $"What the model may cost: {BudgetSpec.Forms}. size counts model.onnx bytes; bits the storage bits per searched weight (codes, scales, zero points, factors; float32 layers at 32); latency (with --target speed) the ONNX Runtime latency relative to the FP32 model, from per-layer times measured on this machine; =min finds the cheapest (fastest) model that keeps --keep.", Required = true };
        var keep = new Option<string>("--keep") { Description = "The metric the model must keep on ONNX Runtime over the evaluation split, as 'compress run --data' reports it: METRIC>=X or METRIC<=X with METRIC one of accuracy, cosine, top1Agreement, klDivergence, perplexity; X a number or relative to the input model: ref-0.01, ref*0.99.", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: the chosen model's run outputs (recipe.json, compressed.safetensors, model.onnx, report.*) and search.json/.md/.html; OUT/.work caches every trial and candidate so that a rerun resumes. Nothing is written under final names when the budget cannot be met.", Required = true };
        var methods = new Option<string>("--methods") { Description = "Plugins whose treatments are searched, comma-separated: rtn, gptq, jlcm, sparsity (StatsQ trains the whole model and is not a per-layer treatment). ('--plugins DIR' stays the global plugin-folder option.)", DefaultValueFactory = _ => "rtn" };
        var bits = new Option<string>("--bits") { Description = "Bit widths of the quantizers, comma-separated (gptq uses those ≤ 4).", DefaultValueFactory = _ => string.Join(",", TreatmentMenu.DefaultBits) };
        var groups = new Option<string>("--groups") { Description = "Group sizes of the quantizers, comma-separated (0 = one scale per output channel); 8 bits per channel is always a candidate.", DefaultValueFactory = _ => string.Join(",", TreatmentMenu.DefaultGroups) };
        var target = new Option<string>("--target") { Description = "size: minimise bytes (budgets size=, bits=); speed: export the candidates for ONNX Runtime's integer kernels (with --budget latency: search rtn W8A8 static/dynamic and sparsity's low-rank per linear layer, the chosen model the fastest measured that keeps --keep).", DefaultValueFactory = _ => "size" };
        target.AcceptOnlyFromAmong([.. ExportTargets.Names]);
        var sensitivity = new Option<string>("--sensitivity") { Description = "How each layer's damage per treatment is found: measured (the layer treated alone, the model evaluated in process), fisher (second-order estimate from the Fisher information of the evaluation samples: no evaluation per trial), auto (measured when its estimated time fits --sensitivity-time).", DefaultValueFactory = _ => "auto" };
        sensitivity.AcceptOnlyFromAmong("auto", "measured", "fisher");
        var sensitivityTime = new Option<double>("--sensitivity-time") { Description = "With --sensitivity auto: the longest estimated measured analysis, in seconds, before the Fisher estimate is used instead.", DefaultValueFactory = _ => 600 };
        var samples = new Option<long>("--samples") { Description = "Evaluation samples of the in-process measurements (the first ones of the evaluation split).", DefaultValueFactory = _ => 256 };
        var trialSamples = new Option<long?>("--trial-samples") { Description = "Evaluation samples of the per-layer trials and the Fisher pass (the first ones of the evaluation split; default --samples). Fewer make measured trials (W8A8's always are) cheaper; the frontier points are still evaluated on --samples in process and the candidates end to end on ONNX Runtime." };
        var fisherSamples = new Option<int>("--fisher-samples") { Description = "Samples of the Fisher pass (one backward pass each).", DefaultValueFactory = _ => 64 };
        var maxCandidates = new Option<int>("--max-candidates") { Description = "Most candidates run end to end (exported, verified, evaluated on ONNX Runtime).", DefaultValueFactory = _ => 4 };
        var include = new Option<string?>("--include") { Description = "Layers to search (name globs, comma-separated); default every linear and conv layer." };
        var exclude = new Option<string?>("--exclude") { Description = "Layers to leave as they are (name globs, comma-separated)." };
        var arch = new Option<string?>("--arch") { Description = "Built-in architecture for a checkpoint that does not name one." };
        var heads = new Option<int?>("--heads") { Description = "Attention heads of a checkpoint without config.json." };
        var seed = new Option<int>("--seed") { Description = "Seed for every random choice.", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N.", DefaultValueFactory = _ => "auto" };
        var opset = new Option<int?>("--opset") { Description = "ai.onnx opset of the exported models." };
        var work = new Option<string?>("--work") { Description = "Cache folder (default OUT/.work)." };
        var evalLimit = CommonOptions.EvalLimit();
        var cmd = new Command("search", "Find the smallest model (or the best within a budget) that keeps a metric: per-layer sensitivity of each treatment of the chosen plugins, an exact knapsack allocation over the layers, the best allocations run end to end on ONNX Runtime; writes the chosen model, its recipe.json and a report with the Pareto plot.");
        foreach (var o in new Option[] { model, data, budget, keep, output, methods, bits, groups, target, sensitivity, sensitivityTime, samples, trialSamples, fisherSamples, maxCandidates, include, exclude, arch, heads, seed, device, opset, work, evalLimit })
            cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env =>
        {
            var request = new SearchRequest(pr.GetValue(model)!, pr.GetValue(data)!, BudgetSpec.Parse(pr.GetValue(budget)!), KeepSpec.Parse(pr.GetValue(keep)!), pr.GetValue(output)!,
                List(pr.GetValue(methods)!, "--methods"), Ints(pr.GetValue(bits)!, "--bits"), Ints(pr.GetValue(groups)!, "--groups"),
                ExportTargets.TryParse(pr.GetValue(target)!, out var t) ? t : Compressor.Sdk.Layers.ExportTarget.Size,
                Enum.Parse<SensitivityMode>(pr.GetValue(sensitivity)!, ignoreCase: true), pr.GetValue(sensitivityTime), pr.GetValue(samples), pr.GetValue(fisherSamples),
                pr.GetValue(maxCandidates), Globs(pr.GetValue(include)), Globs(pr.GetValue(exclude)), pr.GetValue(seed), pr.GetValue(device)!, pr.GetValue(arch), pr.GetValue(heads),
                pr.GetValue(opset), pr.GetValue(evalLimit), pr.GetValue(work), pr.GetValue(trialSamples));
            return Handle(env, request);
        }));
        return cmd;
    }

    /// <summary>Runs the search and prints the result (text or JSON) on stdout; an unmet budget is one line on stderr and exit code 11.</summary>
    public static ExitCode Handle(CommandEnvironment env, SearchRequest request)
    {
        var log = env.Logger();
        var catalog = env.Catalog();
        SearchResult result;
        try
        {
            result = env.Progress().Run(progress => new SearchPipeline(catalog, log, progress).Execute(request, env.Cancellation));
        }
        catch (BudgetNotMetException e)
        {
            env.Error.WriteLine($"error: {e.Message}");
            return ExitCode.BudgetNotMet;
        }
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new SearchOutput(JsonOutput.SchemaVersion, result.OutputDirectory, result.Files, result.Report));
            return ExitCode.Success;
        }
        var c = result.Report.ChosenCandidate!;
        string speed = c.SpeedUp is { } su ? $"{su.ToString("F2", CultureInfo.InvariantCulture)}× faster than FP32 (measured), " : "";
        env.Out.WriteLine($"chosen: {speed}{c.BitsPerWeight.ToString("F3", CultureInfo.InvariantCulture)} bits/weight, {request.Keep.Metric} {c.OrtMetric?.ToString("G6", CultureInfo.InvariantCulture)} on ONNX Runtime " +
                          $"(keep {result.Report.Keep}: threshold {result.Report.Threshold?.ToString("G6", CultureInfo.InvariantCulture)}), model.onnx {c.OnnxBytes:N0} bytes");
        var steps = result.Report.Layers.GroupBy(l => l.Treatment).Select(g => $"{g.Key} ×{g.Count()}");
        env.Out.WriteLine($"layers: {string.Join(", ", steps)}");
        env.Out.WriteLine($"sensitivity: {result.Report.Sensitivity.Mode}; {result.Report.Candidates.Count} candidates evaluated, {result.Report.Candidates.Count(x => x.OrtMetric is not null)} end to end");
        env.Out.WriteLine($"wrote {Path.Combine(result.OutputDirectory, RunPipeline.RecipeFile)} (rerun: compress run {Path.Combine(result.OutputDirectory, RunPipeline.RecipeFile)} --model {request.ModelPath} --data {request.Data} --out DIR), model, {SearchPipeline.ReportFile}, {SearchReportWriter.MarkdownFile}, {SearchReportWriter.HtmlFile}");
        return ExitCode.Success;
    }

    private static IReadOnlyList<string> List(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).Distinct().ToList();
        if (items.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, $"{option} is empty");
        return items;
    }

    private static IReadOnlyList<int> Ints(string text, string option) => List(text, option).Select(s =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new CompressException(ErrorKind.InvalidOptions, $"{option}: '{s}' is not an integer")).ToList();

    private static IReadOnlyList<string> Globs(string? text) => text is null ? [] : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
