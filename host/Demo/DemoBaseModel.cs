using Compressor.Engine.Models;
using Compressor.Engine.Training;
using Newtonsoft.Json;

namespace Compressor.Host.Demo;

/// <summary>The demo report's <c>base</c>: the model the steps compress. A trained one names its architecture,
/// parameters, epochs, last epoch and who trained it; a pretrained one its name and source (the fields of the other
/// kind are left out).</summary>
/// <param name="Kind"><c>trained</c> or <c>pretrained</c>.</param>
/// <param name="Architecture">Trained: the architecture and its config.</param>
/// <param name="Name">Pretrained: its name.</param>
/// <param name="Path">The model file (relative to the demo's folder when inside it).</param>
/// <param name="Bytes">Its size.</param>
/// <param name="Parameters">Trained: its parameter count.</param>
/// <param name="Epochs">Trained: epochs.</param>
/// <param name="Final">Trained: the last epoch's record.</param>
/// <param name="TrainedBy">Trained: who trained it.</param>
/// <param name="Source">Pretrained: where it comes from.</param>
/// <param name="Seconds">Time to train or locate it.</param>
public sealed record DemoBaseModel(
    string Kind,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] ArchitectureSpec? Architecture,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] string? Name,
    string Path,
    long Bytes,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] long? Parameters,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] int? Epochs,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] EpochRecord? Final,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] string? TrainedBy,
    [property: JsonProperty(NullValueHandling = NullValueHandling.Ignore)] string? Source,
    double Seconds = 0);
