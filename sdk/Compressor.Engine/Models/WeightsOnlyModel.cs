using Compressor.Engine.Kinds;

namespace Compressor.Engine.Models;

/// <summary>A checkpoint of unknown architecture, as a tree of its weights (<see cref="WeightsOnlyModule"/>):
/// data-free plugins rewrite its layers and it saves back, but it cannot run (<see cref="IsExecutable"/> is false;
/// Forward and Run throw the contract's one-line error) or be copied.</summary>
public sealed class WeightsOnlyModel : EngineModel
{
    /// <summary>Wraps <paramref name="module"/>.</summary>
    /// <param name="module">The tree of weights.</param>
    /// <param name="kinds">The compressed layer kinds of the run.</param>
    /// <param name="steps">The plugin steps already applied (from a compressed checkpoint).</param>
    public WeightsOnlyModel(WeightsOnlyModule module, LayerKindSet kinds, IEnumerable<AppliedStep>? steps = null)
        : base(module, null, kinds, steps) { }

    /// <summary>The tree of weights.</summary>
    public WeightsOnlyModule Tree => (WeightsOnlyModule)Module;

    /// <summary>False: the architecture is unknown.</summary>
    public override bool IsExecutable => false;
}
