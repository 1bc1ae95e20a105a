using System.CommandLine;
using Compressor.Host.Pipeline;

namespace Compressor.Host.Commands;

/// <summary><c>compress export CHECKPOINT --out model.onnx [--opset N] [--arch NAME]</c>: writes the ONNX model of a
/// (compressed) checkpoint and runs the verification gate; the file appears only when the gate passes. The
/// checkpoint's compressed layers are rebuilt and lowered by the layers library's kinds and every installed plugin's.</summary>
public static class ExportCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A checkpoint written by 'compress run' (compressed.safetensors), any safetensors file of a built-in architecture, or a Hugging Face / timm model folder (then --out is a folder: config.json, tokenizer files, onnx/model.onnx)." };
        var output = new Option<string>("--out", "-o") { Description = "The ONNX file to write (tensors go to FILE.data beside it when the model exceeds 2 GB); for a model folder, the output folder.", Required = true };
        var opset = new Option<int?>("--opset") { Description = "ai.onnx opset (default 21; 25 where 2-bit weights need int2; at most 25)." };
        var arch = new Option<string?>("--arch") { Description = "Built-in architecture for a checkpoint that does not name one (mlp, cnn, …)." };
        var exportTarget = new Option<string?>("--target") { Description = ExportTargets.Help.Replace("model.onnx", "the ONNX model") };
        exportTarget.AcceptOnlyFromAmong([.. ExportTargets.Names]);
        var deployTokens = new Option<int>("--deploy-tokens")
        {
            Description = "Tokens per inference call the ONNX model is made for (1: a decoder's decoding steps): each structured layer (low-rank, block) is written as its merged dense product where that is faster here at this many tokens (its break-even measured on this machine), else as its factors; the decision is in the output (preMerge). 0: as the checkpoint records.",
            DefaultValueFactory = _ => 0,
        };
        var cmd = new Command("export", "Export a checkpoint to ONNX (compressed layers as packed low-bit weights) and verify it on ONNX Runtime: it loads, matches TorchSharp, holds the theoretical bytes, and uses only ops ORT runs.");
        cmd.Arguments.Add(checkpoint);
        foreach (var o in new Option[] { output, opset, arch, exportTarget, deployTokens }) cmd.Options.Add(o);
        cmd.SetAction(pr => execute(pr, env => Handle(env, new ExportRequest(pr.GetValue(checkpoint)!, pr.GetValue(output)!, pr.GetValue(opset), pr.GetValue(arch),
            pr.GetValue(exportTarget) is { } t && ExportTargets.TryParse(t, out var parsed) ? parsed : Compressor.Sdk.Layers.ExportTarget.Size, pr.GetValue(deployTokens)))));
        return cmd;
    }

    /// <summary>Exports and prints the summary (text or JSON) on stdout.</summary>
    public static ExitCode Handle(CommandEnvironment env, ExportRequest request)
    {
        var result = new ExportPipeline(env.Catalog().Kinds, env.Logger()).Execute(request, env.Cancellation);
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new ExportOutput(JsonOutput.SchemaVersion, result.Files, result.Onnx, result.Verification, result.PreMerge));
            return ExitCode.Success;
        }
        foreach (var f in result.Files) env.Out.WriteLine($"wrote {f}");
        OnnxSummary.Write(env.Out, result.Onnx, result.Verification);
        if (result.PreMerge is { } p)
            env.Out.WriteLine($"pre-merge at {p.DeployTokens} token(s) per call: {p.Merged} of {p.Layers.Count} structured layer(s) merged into one dense MatMul" +
                              (p.Merged > 0 ? $" ({string.Join(", ", p.Layers.Where(l => l.Merged).Take(6).Select(l => l.Name))}{(p.Merged > 6 ? ", …" : "")})" : ""));
        return ExitCode.Success;
    }
}
