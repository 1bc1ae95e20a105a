using System.Security.Cryptography;
using System.Text;
using Compressor.Host.Pipeline;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Diagnostics;
using Newtonsoft.Json;

namespace Compressor.Host.Search;

/// <summary>Runs a candidate's recipe end to end through the ordinary <c>compress run</c> pipeline
/// (<see cref="RunPipeline"/>: compress, export, verify on ONNX Runtime, evaluate against the input model on ONNX
/// Runtime) into <c>WORK/candidates/ID/out</c>, where ID hashes the recipe text and the inputs. A finished candidate
/// leaves <c>candidate.json</c> (its measured numbers) beside its outputs, so a rerun of the search reads it instead of
/// running it again.</summary>
public sealed class CandidateRunner(PluginCatalog catalog, IPluginLogger log, IProgressReporter progress, SearchRequest request, string inputSha256, string workRoot)
{
    /// <summary>The folder of candidate <paramref name="id"/>.</summary>
    public string FolderOf(string id) => Path.Combine(workRoot, "candidates", id);

    /// <summary>The run outputs of candidate <paramref name="id"/>.</summary>
    public string OutputOf(string id) => Path.Combine(FolderOf(id), "out");

    /// <summary>The cache id of a recipe text for this search's inputs.</summary>
    public string IdOf(string recipe)
    {
        string key = string.Join("\n", recipe, inputSha256, request.Data, request.EvalLimit?.ToString() ?? "", request.Opset?.ToString() ?? "", request.Device, request.Architecture ?? "");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..16];
    }

    /// <summary>Runs <paramref name="candidate"/> (or reads its cached result) and fills in its measured numbers.</summary>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public void Run(Candidate candidate, string recipe, KeepSpec keep, CancellationToken cancellation)
    {
        string folder = FolderOf(candidate.Id), summary = Path.Combine(folder, "candidate.json");
        if (File.Exists(summary) && Directory.Exists(OutputOf(candidate.Id)))
        {
            var cached = JsonConvert.DeserializeObject<Measured>(File.ReadAllText(summary));
            if (cached is not null)
            {
                cached.CopyTo(candidate);
                candidate.Cached = true;
                log.Info($"search: candidate {candidate.Id} read from the cache ({keep.Metric} {Fmt(candidate.OrtMetric)})");
                return;
            }
        }
        Directory.CreateDirectory(folder);
        string recipePath = Path.Combine(folder, "recipe.in.json");
        File.WriteAllText(recipePath, recipe);
        log.Info($"search: running candidate {candidate.Id} end to end ({candidate.BitsPerWeight:F3} bits/weight)");
        try
        {
            var run = new RunPipeline(catalog, log, progress).Execute(new RunRequest(recipePath, request.ModelPath, OutputOf(candidate.Id), request.Architecture,
                request.Data, request.Seed, request.Device, [], null, request.Opset, null, null, request.EvalLimit, request.Target, request.Heads), cancellation);
            var metric = run.Report.Metrics.FirstOrDefault(m => m.Name == keep.Metric && m.Dataset is not null)
                ?? throw new CompressException(ErrorKind.InvalidInput, $"the evaluation of candidate {candidate.Id} reported no {keep.Metric}");
            var measured = new Measured(metric.Value, metric.Reference, run.Report.Output.Onnx?.BytesOnDisk, run.Report.Output.BytesOnDisk,
                run.Report.Evaluation?.SpeedUp?.Median, run.Report.Evaluation?.SpeedUp?.P25, run.Report.Evaluation?.SpeedUp?.P75);
            measured.CopyTo(candidate);
            Compressor.Engine.IO.AtomicFile.WriteAllText(summary, JsonConvert.SerializeObject(measured, Formatting.Indented));
        }
        catch (CompressException e) when (e.Kind is not (ErrorKind.Cancelled or ErrorKind.OutputFailed or ErrorKind.MemoryLimit))
        {
            // A candidate that fails (a plugin's error, the verification gate) is a point the search cannot use, not the
            // end of the search.
            candidate.Error = e.Message;
            log.Warn($"search: candidate {candidate.Id} failed: {e.Message}");
        }
    }

    /// <summary>Makes sure the run outputs of <paramref name="candidate"/> are in its folder (a cached candidate whose
    /// outputs were removed runs again: the same recipe and inputs give the same bytes).</summary>
    public void EnsureOutputs(Candidate candidate, string recipe, KeepSpec keep, CancellationToken cancellation)
    {
        if (File.Exists(Path.Combine(OutputOf(candidate.Id), RunPipeline.RecipeFile))) return;
        File.Delete(Path.Combine(FolderOf(candidate.Id), "candidate.json"));
        var again = new Candidate { Id = candidate.Id, Allocation = candidate.Allocation };
        Run(again, recipe, keep, cancellation);
        if (again.Error is not null) throw new CompressException(ErrorKind.PluginFailed, $"search: rerunning the chosen candidate {candidate.Id} failed: {again.Error}");
    }

    private static string Fmt(double? v) => v is { } x ? x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture) : "-";

    /// <summary>What candidate.json holds.</summary>
    private sealed record Measured(double? Metric, double? Reference, long? OnnxBytes, long? CheckpointBytes, double? SpeedUp, double? SpeedUpP25 = null, double? SpeedUpP75 = null)
    {
        public void CopyTo(Candidate c)
        {
            c.OrtMetric = Metric;
            c.OrtReference = Reference;
            c.OnnxBytes = OnnxBytes;
            c.CheckpointBytes = CheckpointBytes;
            c.SpeedUp = SpeedUp;
            c.SpeedUpP25 = SpeedUpP25;
            c.SpeedUpP75 = SpeedUpP75;
        }
    }
}
