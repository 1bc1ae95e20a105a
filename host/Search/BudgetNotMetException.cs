namespace Compressor.Host.Search;

/// <summary>No evaluated candidate meets both <c>--budget</c> and <c>--keep</c> (exit code
/// <see cref="ExitCode.BudgetNotMet"/>); the message names the best point reached. Nothing was written under the
/// output folder's final names; search.json of the attempt is in the work folder.</summary>
public sealed class BudgetNotMetException(string message) : Exception(message);
