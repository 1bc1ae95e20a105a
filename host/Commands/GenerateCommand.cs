using System.CommandLine;
using System.Globalization;
using Compressor.Engine.Data;
using Compressor.Engine.Generation;
using Compressor.Host.Console;
using Compressor.Host.Pipeline;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Compressor.Host.Commands;

/// <summary><c>compress generate FOLDER --prompt TEXT [--max-new-tokens N]</c>: greedy decoding on ONNX Runtime with the
/// key/value cache of a decoder's output folder (<c>onnx/model.onnx</c>), the prompt tokenized and the tokens decoded by
/// the folder's own <c>tokenizer.json</c>, stopping at the folder's end-of-sequence id (<c>generation_config.json</c>,
/// else <c>config.json</c>), at N new tokens or at the model's longest sequence.</summary>
public static class GenerateCommand
{
    /// <summary>The default number of new tokens.</summary>
    public const int DefaultMaxNewTokens = 32;

    /// <summary>The most new tokens one call generates.</summary>
    public const int MaxNewTokensLimit = 1 << 20;

    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var folder = new Argument<string>("folder")
        {
            Description = "The output folder of 'compress run' or 'compress export' on a decoder's model folder (llama, qwen2, mistral, gpt2): onnx/model.onnx with its key/value cache, tokenizer.json, config.json.",
        };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The text to continue (tokenized by the folder's tokenizer.json, with its begin-of-text token where it adds one).", Required = true };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = $"The most tokens to generate (default {DefaultMaxNewTokens}); fewer when the end-of-sequence token comes first or the model's context is full.", DefaultValueFactory = _ => DefaultMaxNewTokens };
        var level = new Option<string>("--optimization") { Description = "ONNX Runtime's graph optimisation: all (default, as deployed: 4-bit weights run as MatMulNBits) or basic (exact float products, what the verification gate compares with TorchSharp).", DefaultValueFactory = _ => "all" };
        level.AcceptOnlyFromAmong("all", "basic");
        var cmd = new Command("generate", "Generate text greedily with a compressed decoder on ONNX Runtime (ORT_ENABLE_ALL, as deployed), feeding its key/value cache one token at a time; prints the prompt and its continuation, and the decoding speed on stderr.");
        cmd.Arguments.Add(folder);
        cmd.Options.Add(prompt);
        cmd.Options.Add(maxNew);
        cmd.Options.Add(level);
        cmd.SetAction(pr => execute(pr, env => Handle(env, pr.GetValue(folder)!, pr.GetValue(prompt)!, pr.GetValue(maxNew),
            pr.GetValue(level) == "basic" ? GraphOptimizationLevel.ORT_ENABLE_BASIC : GraphOptimizationLevel.ORT_ENABLE_ALL)));
        return cmd;
    }

    /// <summary>The ONNX model of a decoder's output folder: <c>onnx/model.onnx</c>, or <c>model.onnx</c> beside the config.</summary>
    /// <exception cref="CompressException">No such folder, or no model in it (kind InvalidInput).</exception>
    public static string ModelOf(string folder)
    {
        if (!Directory.Exists(folder)) throw new CompressException(ErrorKind.InvalidInput, $"{folder}: no such folder (generate takes an output folder of compress run/export)");
        foreach (var candidate in new[] { Path.Combine(folder, DeployableFolder.OnnxFile), Path.Combine(folder, OnnxStage.FileName) })
            if (File.Exists(candidate)) return candidate;
        throw new CompressException(ErrorKind.InvalidInput, $"{folder}: no {DeployableFolder.OnnxFile.Replace('\\', '/')} (generate takes the output folder of compress run/export on a decoder's model folder)");
    }

    /// <summary>Generates and prints the text (or JSON) on stdout, the speed on stderr.</summary>
    public static ExitCode Handle(CommandEnvironment env, string folder, string prompt, int maxNewTokens, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        if (maxNewTokens < 1 || maxNewTokens > MaxNewTokensLimit)
            throw new CompressException(ErrorKind.InvalidOptions, $"--max-new-tokens {maxNewTokens}: must be 1..{MaxNewTokensLimit}");
        string model = ModelOf(folder);
        if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
            throw new CompressException(ErrorKind.InvalidInput, $"{folder}: no tokenizer.json (generate tokenizes the prompt with the folder's own tokenizer; run compress on a model folder that has one)");
        var tokenizer = HuggingFaceTokenizer.Load(folder);
        if (tokenizer.IsEncoder)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path.Combine(folder, "tokenizer.json")} is an encoder's ({tokenizer.Kind}) tokenizer; generate needs a decoder's");
        var settings = GenerationSettings.Load(folder);
        int threads = Compressor.Engine.Runtime.ComputeThreads.Count;
        using var decoder = new OrtDecoder(model, threads, level);
        var ids = tokenizer.EncodePrompt(prompt);
        if (ids.Count == 0) throw new CompressException(ErrorKind.InvalidOptions, "--prompt: the text gives no tokens");
        if (ids.FirstOrDefault(i => i >= decoder.Vocabulary, -1) is var outside and >= 0)
            throw new CompressException(ErrorKind.InvalidInput, $"{Path.Combine(folder, "tokenizer.json")} gives token id {outside}, outside the model's vocabulary of {decoder.Vocabulary}: the tokenizer is not this model's");
        env.Logger().Info($"generating up to {maxNewTokens} tokens after a prompt of {ids.Count} with {model} (ONNX Runtime {Compressor.Engine.Onnx.Verification.OnnxVerifier.OrtVersion}, {threads} thread{(threads == 1 ? "" : "s")})");
        var result = GreedyDecoding.Run(decoder, ids, maxNewTokens, settings.StopTokens, settings.MaxLength, env.Cancellation);
        string text = tokenizer.Decode(result.Tokens);
        double? speed = double.IsNaN(result.DecodeTokensPerSecond) ? null : result.DecodeTokensPerSecond;
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new GenerateOutput(JsonOutput.SchemaVersion, Path.GetFullPath(model), prompt, result.Prompt, result.Tokens, text, result.StopReason,
                result.PrefillSeconds * 1000, speed, threads, Compressor.Engine.Onnx.Verification.OnnxVerifier.OrtVersion));
            return ExitCode.Success;
        }
        env.Out.WriteLine(TerminalText.Multiline(prompt + text));
        env.Logger().Info(string.Create(CultureInfo.InvariantCulture,
            $"{result.Tokens.Count} token{(result.Tokens.Count == 1 ? "" : "s")} (stopped: {result.StopReason}); prompt {result.PrefillSeconds * 1000:F1} ms; " +
            $"decoding {(speed is { } s ? $"{s:F1} tokens/s" : "n/a")}"));
        return ExitCode.Success;
    }
}
