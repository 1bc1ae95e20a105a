using System.CommandLine;
using Compressor.Engine.Data;
using Compressor.Host.Pipeline;

namespace Compressor.Host.Commands;

/// <summary><c>compress run PLUGIN|RECIPE.json --model PATH --out DIR [plugin options]</c>.</summary>
public static class RunCommand
{
    /// <summary>Builds the command; plugin options are the tokens the command itself does not know.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var target = new Argument<string>("plugin|recipe") { Description = "A plugin id (see 'compress plugin list') or a recipe JSON file of ordered steps." };
        var model = new Option<string>("--model", "-m") { Description = "The input: a Hugging Face or timm model folder (config.json + model.safetensors, shards or pytorch_model.bin), or a checkpoint file: safetensors, PyTorch torch.save (.pt/.pth/.bin), a Hugging Face sharded index, TorchSharp, or an ONNX model (recognised by content).", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output folder: compressed.safetensors, model.onnx, recipe.json, report.json; from a model folder laid out as Hugging Face loaders expect (config.json, tokenizer files, onnx/model.onnx). Existing files are replaced only when the run succeeds.", Required = true };
        var arch = new Option<string?>("--arch") { Description = "Built-in architecture for a checkpoint that does not name one (mlp, cnn, vit, gpt2, bert, llama, …); transformer sizes are read from the tensors. Without it a checkpoint of no recognised family loads weights-only (data-free plugins only)." };
        var heads = new Option<int?>("--heads") { Description = "Attention heads of a checkpoint without config.json (tensor shapes never tell them; default width/64, the head width of timm ViT/DeiT and GPT-2)." };
        var data = new Option<string?>("--data") { Description = "Data set for plugins that need calibration or training data: " + DataSources.Help };
        var seed = new Option<int?>("--seed") { Description = "Seed for every random choice (default: the recipe's, else 0). Same inputs and seed give the same outputs." };
        var device = new Option<string>("--device") { Description = "auto, cpu, cuda or cuda:N (auto: CUDA when available).", DefaultValueFactory = _ => "auto" };
        var work = new Option<string?>("--work") { Description = "Folder for resumable plugin state (default: OUT/.work)." };
        var opset = new Option<int?>("--opset") { Description = "ai.onnx opset of model.onnx (default 21; 25 where 2-bit weights need int2)." };
        var timeout = new Option<double?>("--timeout") { Description = "Stop a plugin step that runs longer than this many seconds (exit code 8, nothing written). Default: no limit." };
        var evalLimit = CommonOptions.EvalLimit();
        var maxMemory = new Option<string?>("--max-memory") { Description = "Memory limit for the model, the in-memory data and each layer's working set, e.g. 2GB or 512MiB: a run that would exceed it stops before allocating (exit code 10, nothing written). Default: no limit." };
        var stream = new Option<string?>("--stream") { Description = StreamModes.Help };
        stream.AcceptOnlyFromAmong([.. StreamModes.Names]);
        var exportTarget = new Option<string?>("--target") { Description = ExportTargets.Help };
        exportTarget.AcceptOnlyFromAmong([.. ExportTargets.Names]);
        var deployTokens = new Option<int?>("--deploy-tokens")
        {
            Description = "Tokens per inference call model.onnx is made for (1: a decoder's decoding steps), as 'compress export --deploy-tokens': each structured layer (low-rank, block) is written as its merged dense product where that is faster here at this many tokens, else as its factors. The checkpoint keeps its form; the decisions are recorded in recipe.json (preMerge), and a run of that recipe makes the same ones. Default: the recipe's, else 0 (as the checkpoint records). This takes the flag from a plugin option of the same name (sparsity's; in a recipe it stays deployTokens). Not with a streamed run.",
        };
        var cmd = new Command("run", "Compress a checkpoint with a plugin (its options follow as --flags; see 'compress plugin describe ID') or with a recipe of steps, and write the compressed checkpoint, the ONNX model (verified on ONNX Runtime), the recipe that ran, and a report.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        cmd.Arguments.Add(target);
        foreach (var o in new Option[] { model, output, arch, heads, data, seed, device, work, opset, exportTarget, deployTokens, timeout, maxMemory, stream, evalLimit }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new RunRequest(pr.GetValue(target)!, pr.GetValue(model)!, pr.GetValue(output)!,
            pr.GetValue(arch), pr.GetValue(data), pr.GetValue(seed), pr.GetValue(device)!, pr.UnmatchedTokens.ToList(), pr.GetValue(work), pr.GetValue(opset), pr.GetValue(timeout), pr.GetValue(maxMemory),
            pr.GetValue(evalLimit), pr.GetValue(exportTarget) is { } t && ExportTargets.TryParse(t, out var parsed) ? parsed : null, pr.GetValue(heads), pr.GetValue(stream), pr.GetValue(deployTokens)))));
        return cmd;
    }

    /// <summary>Runs the pipeline and prints the summary (text or JSON) on stdout.</summary>
    public static ExitCode Handle(CommandEnvironment env, RunRequest request)
    {
        var log = env.Logger();
        var catalog = env.Catalog();
        var result = env.Progress().Run(progress => new RunPipeline(catalog, log, progress).Execute(request, env.Cancellation));
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new RunOutput(JsonOutput.SchemaVersion, result.OutputDirectory, result.Files, result.Report));
            return ExitCode.Success;
        }
        RunSummary.Write(env.Out, result);
        return ExitCode.Success;
    }
}
