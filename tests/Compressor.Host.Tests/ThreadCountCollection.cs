namespace Compressor.Host.Tests;

/// <summary>The test classes that run the CLI in process with <c>--threads N</c>. The option sets the process-wide compute
/// thread count (libtorch's pool), and a float reduction's result depends on how many threads split it: run in parallel
/// with the rest, such a call changed the count under another test's byte-for-byte comparison (a model trained in
/// process vs by the command differed in one weight). These classes run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "changes the compute thread count";
}
