namespace Compressor.Host.Demo;

/// <summary>What <c>compress demo</c> was asked to do.</summary>
/// <param name="Model">The demo model: <c>vit</c> (trained here on digits) or <c>minilm</c> (pretrained).</param>
/// <param name="OutputDirectory">Where the base model, one folder per step, report.json and report.html go.</param>
/// <param name="Quick">Fewer training epochs and the steps' quick options (a smoke run, for CI).</param>
/// <param name="Seed">The seed of training, data splits and every step.</param>
/// <param name="Device">auto, cpu, cuda or cuda:N.</param>
/// <param name="StepsFile">A demo-steps.json to use instead of the embedded one, or null.</param>
/// <param name="EvalLimit">Evaluate at most this many samples per step (null: all).</param>
public sealed record DemoRequest(string Model, string OutputDirectory, bool Quick, int Seed, string Device, string? StepsFile, long? EvalLimit = null);
