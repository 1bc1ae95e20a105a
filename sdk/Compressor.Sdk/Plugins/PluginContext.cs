using Compressor.Sdk.Diagnostics;
using Compressor.Sdk.Models;
using Compressor.Sdk.Reports;
using static TorchSharp.torch;

namespace Compressor.Sdk.Plugins;

/// <summary>Everything a plugin receives for one run.</summary>
public sealed class PluginContext
{
    /// <summary>The model to rewrite (in place).</summary>
    public required CompressibleModel Model { get; init; }

    /// <summary>The data sets the plugin declared it needs.</summary>
    public PluginData Data { get; init; } = PluginData.None;

    /// <summary>Where tensors should live (cpu, or cuda where present).</summary>
    public Device Device { get; init; } = CPU;

    /// <summary>The run's seed. Derive every random choice from it so that results are deterministic.</summary>
    public int Seed { get; init; }

    /// <summary>A managed RNG seeded from <see cref="Seed"/>.</summary>
    public Random Random { get; init; } = new(0);

    /// <summary>Progress of long work.</summary>
    public IProgressReporter Progress { get; init; } = NullProgressReporter.Instance;

    /// <summary>Log messages.</summary>
    public IPluginLogger Log { get; init; } = NullPluginLogger.Instance;

    /// <summary>Cancellation (Ctrl+C, timeouts); check it between layers/steps.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>This step's resumable state, which survives an interrupted run.</summary>
    public required IResumeStore Resume { get; init; }

    /// <summary>The memory limit of the run (<c>--max-memory</c>): layer-wise methods call
    /// <see cref="MemoryBudget.EnsureFits"/> with a layer's working set before allocating it.</summary>
    public MemoryBudget Memory { get; init; } = MemoryBudget.Unlimited;

    /// <summary>Per-layer rows, metrics and series for the report.</summary>
    public ReportBuilder Report { get; init; } = new();
}
