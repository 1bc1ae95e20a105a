namespace Compressor.Engine.IO;

/// <summary>Thrown by tests from a <see cref="CrashPoints.Arm"/> callback to stop work at a crash point; nothing in
/// the engine or host catches it as an ordinary failure.</summary>
public sealed class SimulatedCrash(string point) : Exception($"simulated crash at {point}")
{
    /// <summary>The crash point.</summary>
    public string Point { get; } = point;
}
