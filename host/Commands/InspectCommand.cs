using System.CommandLine;
using System.Globalization;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Storage;
using Compressor.Host.Console;

namespace Compressor.Host.Commands;

/// <summary><c>compress inspect CHECKPOINT [--format json]</c>: the format (recognised by content), every tensor
/// (name, dtype, shape, bytes), the parameter count (elements of floating-point tensors), total bytes, the detected
/// architecture and the metadata. Reads headers only: no tensor data is loaded.</summary>
public static class InspectCommand
{
    private const int MaxMetadataText = 120;

    /// <summary>Builds the command.</summary>
    public static Command Create(Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var file = new Argument<string>("checkpoint")
        {
            Description = "A checkpoint: safetensors, PyTorch torch.save (.pt/.pth/.bin), a Hugging Face sharded index (*.index.json) or TorchSharp module.save (the format is recognised by content), or a Hugging Face / timm model folder (its config, the architecture it loads as, and its weights).",
        };
        var cmd = new Command("inspect", "Show a checkpoint's format, tensors (name, dtype, shape, bytes), parameter count, total bytes, detected architecture and metadata.");
        cmd.Arguments.Add(file);
        cmd.SetAction(pr => execute(pr, env => Handle(env, pr.GetValue(file)!)));
        return cmd;
    }

    /// <summary>Inspects <paramref name="path"/> and prints the summary (text or JSON) on stdout.</summary>
    public static ExitCode Handle(CommandEnvironment env, string path)
    {
        var folder = ModelFolder.IsFolder(path) ? ModelFolder.Open(path) : null;
        var shown = folder is null ? null : new InspectedFolder(folder.Directory, folder.ConfigPath, folder.Family, folder.Spec.Name, folder.Spec.Config,
            folder.WeightsPath, folder.CompanionFiles.Select(Path.GetFileName).ToList()!);
        if (folder is not null) path = folder.WeightsPath;
        using var reader = CheckpointFormats.Open(path);
        var tensors = reader.Tensors;
        long parameters = tensors.Where(t => t.ScalarType.IsFloatingPoint()).Sum(t => t.ElementCount);
        long elements = tensors.Sum(t => t.ElementCount);
        long bytes = tensors.Sum(t => t.ByteCount);
        var arch = ArchitectureDetector.Detect(tensors.Select(t => t.Name).ToList(), reader.Metadata);
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new InspectOutput(JsonOutput.SchemaVersion, reader.Path, reader.Format, parameters, elements, bytes, new FileInfo(path).Length,
                arch, new SortedDictionary<string, string>(reader.Metadata.ToDictionary(), StringComparer.Ordinal),
                [.. tensors.Select(t => new InspectedTensor(t.Name, TensorDType.NameOf(t.ScalarType), t.DType, t.Shape, t.ByteCount))], shown));
            return ExitCode.Success;
        }
        var o = env.Out;
        // Names, metadata and evidence come from the file: escaped and capped before they reach the terminal.
        if (shown is not null)
        {
            o.WriteLine($"folder        {TerminalText.Cell(shown.Path, 4096)}");
            o.WriteLine($"config        {TerminalText.Cell(Path.GetFileName(shown.Config), 256)} (model_type {TerminalText.Cell(shown.ModelType, 64)})");
            o.WriteLine($"loads as      {shown.Architecture} {TerminalText.Cell(shown.ArchitectureConfig.ToString(Newtonsoft.Json.Formatting.None), 1000)}");
            o.WriteLine($"files         {TerminalText.Cell(string.Join(", ", shown.CompanionFiles.Prepend(Path.GetFileName(shown.Weights))), 1000)}");
        }
        o.WriteLine($"checkpoint    {TerminalText.Cell(reader.Path, 4096)}");
        o.WriteLine($"format        {reader.Format}");
        o.WriteLine($"architecture  {(arch is null ? "not recognised" : $"{arch.Name} ({arch.Family}{(arch.Depth is { } d ? $", {d} blocks" : "")}; from {TerminalText.Cell(arch.Evidence, 200)})")}");
        o.WriteLine($"tensors       {tensors.Count.ToString("N0", CultureInfo.InvariantCulture)}");
        o.WriteLine($"parameters    {parameters.ToString("N0", CultureInfo.InvariantCulture)}{(elements != parameters ? $" (+{(elements - parameters).ToString("N0", CultureInfo.InvariantCulture)} integer elements)" : "")}");
        o.WriteLine($"bytes         {bytes.ToString("N0", CultureInfo.InvariantCulture)} ({Human(bytes)})");
        if (reader.Metadata.Count > 0)
        {
            o.WriteLine("metadata");
            foreach (var (k, v) in reader.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                o.WriteLine($"  {TerminalText.Cell(k, 80)} = {Short(v)}");
        }
        if (tensors.Count > 0)
        {
            o.WriteLine();
            TextTable.Write(o, ["NAME", "DTYPE", "SHAPE", "BYTES"], tensors.Select(t => new[]
            {
                TerminalText.Cell(t.Name, 160), TensorDType.NameOf(t.ScalarType), "[" + string.Join(", ", t.Shape) + "]", t.ByteCount.ToString(CultureInfo.InvariantCulture),
            }).ToList());
        }
        return ExitCode.Success;
    }

    private static string Short(string value)
    {
        return TerminalText.Cell(value, MaxMetadataText);
    }

    private static string Human(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString("F1", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
