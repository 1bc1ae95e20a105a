using Compressor.Engine.Models;
using Compressor.Engine.Training;

namespace Compressor.Host.Results;

/// <summary>train.json of <c>compress train</c>: the architecture and its config, parameters, data, settings, every
/// epoch's record and the last one, wall time, and who trained it. <see cref="Settings"/>, <see cref="History"/> and
/// <see cref="Final"/> keep the .NET names of their records (<c>"EvalAccuracy"</c>, see <see cref="ResultJson"/>).</summary>
public sealed record TrainReport(
    int SchemaVersion,
    ToolInfo Tool,
    ArchitectureSpec Architecture,
    long Parameters,
    TrainData Data,
    TrainingSettings Settings,
    IReadOnlyList<EpochRecord> History,
    EpochRecord Final,
    double Seconds,
    string TrainedBy)
{
    /// <summary>The schema version of train.json.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>Who trained models written by <c>compress train</c>.</summary>
    public const string TrainedByThisProject = "compress train (this model was trained by this project, not a published checkpoint)";
}
