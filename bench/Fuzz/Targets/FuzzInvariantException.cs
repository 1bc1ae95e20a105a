namespace Compressor.Fuzz;

/// <summary>An input broke one of the fuzzing invariants (anything but a one-line <c>CompressException</c>
/// escaped, the parse took too long, or it allocated more than the input could justify). Escapes the harness so
/// that the fuzzer records the input as a crash.</summary>
public sealed class FuzzInvariantException(string message, Exception? inner = null) : Exception(message, inner);
