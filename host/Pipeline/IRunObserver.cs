using Compressor.Engine.Models;

namespace Compressor.Host.Pipeline;

/// <summary>Optional callbacks at the stages of a run, for tests and tools that watch it (every method does nothing by
/// default).</summary>
public interface IRunObserver
{
    /// <summary>The input checkpoint was loaded into <paramref name="model"/>.</summary>
    void Loaded(string path, EngineModel model) { }

    /// <summary>The input model, as loaded, was exported as the evaluation's reference to <paramref name="path"/>.</summary>
    void ReferenceExported(string path) { }

    /// <summary>Step <paramref name="index"/> (from 0) of plugin <paramref name="plugin"/> is about to run.</summary>
    void StepStarting(int index, string plugin) { }
}
