// Usage: OrtSessionMemory MODEL.onnx MODE, MODE a '-'-joined list of: basic | all (optimisation level), noarena (no CPU
// memory arena), noprepack (session.disable_prepacking), profile (ORT's profiler: the JSON names each node in the order
// it ran). Feeds a batch of 2 × 16 tokens with an empty cache (the gate's prefill case), runs twice, and prints
// VmRSS, RssAnon, RssFile and VmHWM after the session is created and after each run.
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: OrtSessionMemory MODEL.onnx basic|all[-noarena][-noprepack][-profile]");
    return 2;
}
// As compress does for streamed runs: blocks of 1 MiB and more are mapped on their own and unmapped when freed.
if (OperatingSystem.IsLinux()) mallopt(-3, 1 << 20);
string mode = args[1];
using var options = new SessionOptions
{
    GraphOptimizationLevel = mode.Contains("all") ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_ENABLE_BASIC,
    IntraOpNumThreads = 1, InterOpNumThreads = 1, EnableCpuMemArena = !mode.Contains("noarena"),
};
if (mode.Contains("noprepack")) options.AddSessionConfigEntry("session.disable_prepacking", "1");
if (mode.Contains("profile")) options.EnableProfiling = true;
var clock = System.Diagnostics.Stopwatch.StartNew();
using var session = new InferenceSession(args[0], options);
Console.WriteLine($"created {clock.Elapsed.TotalSeconds:F1} s: {Memory()}");
var names = new List<string>();
var values = new List<OrtValue>();
foreach (var (name, meta) in session.InputMetadata)
{
    long[] shape = meta.Dimensions.Select((d, i) => d > 0 ? d : i == 0 ? 2L : name.StartsWith("past", StringComparison.Ordinal) ? 0L : 16L).ToArray();
    long n = shape.Aggregate(1L, (a, b) => a * b);
    if (meta.ElementDataType == TensorElementType.Int64)
    {
        var data = new long[n];
        for (long i = 0; i < n; i++) data[i] = name.Contains("mask") ? 1 : name.Contains("position") ? i % shape[^1] : i * 7919 % 1000;
        values.Add(OrtValue.CreateTensorValueFromMemory(data, shape));
    }
    else values.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, shape));
    names.Add(name);
}
var outputs = session.OutputMetadata.Keys.ToList();
for (int run = 1; run <= 2; run++)
{
    using var runOptions = new RunOptions();
    using (session.Run(runOptions, names, values, outputs)) Console.WriteLine($"run {run} {clock.Elapsed.TotalSeconds:F1} s: {Memory()}");
}
if (mode.Contains("profile")) Console.WriteLine($"profile: {session.EndProfiling()}");
foreach (var v in values) v.Dispose();
return 0;

static string Memory()
{
    var lines = File.ReadAllLines("/proc/self/status");
    string Get(string key) => lines.First(l => l.StartsWith(key, StringComparison.Ordinal)).Split(':')[1].Trim();
    return $"VmRSS {Get("VmRSS:")}, RssAnon {Get("RssAnon:")}, RssFile {Get("RssFile:")}, VmHWM {Get("VmHWM:")}";
}

[DllImport("libc")]
static extern int mallopt(int parameter, int value);
