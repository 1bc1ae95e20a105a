namespace Compressor.Sdk.Diagnostics;

/// <summary>Progress of long work (per layer, per epoch). The host shows bars on a terminal and plain lines otherwise.</summary>
public interface IProgressReporter
{
    /// <summary>Starts a task of <paramref name="total"/> units.</summary>
    IProgressTask Start(string description, long total);
}

/// <summary>A running progress task; dispose it when done.</summary>
public interface IProgressTask : IDisposable
{
    /// <summary>Adds <paramref name="units"/> done, optionally updating the status text (e.g. the current layer or loss).</summary>
    void Advance(long units = 1, string? status = null);
}

/// <summary>A reporter that shows nothing.</summary>
public sealed class NullProgressReporter : IProgressReporter, IProgressTask
{
    /// <summary>The instance.</summary>
    public static NullProgressReporter Instance { get; } = new();

    /// <inheritdoc/>
    public IProgressTask Start(string description, long total) => this;

    /// <inheritdoc/>
    public void Advance(long units = 1, string? status = null) { }

    /// <inheritdoc/>
    public void Dispose() { }
}
