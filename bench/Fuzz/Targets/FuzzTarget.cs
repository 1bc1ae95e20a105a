namespace Compressor.Fuzz;

/// <summary>One parser of untrusted bytes under fuzzing.</summary>
/// <param name="Name">Target id on the command line (<c>safetensors</c>, <c>pickle</c>, …).</param>
/// <param name="Extension">File extension its inputs carry (for seeds and corpus files).</param>
/// <param name="Parse">Parses the input (given both as the file at a path and as its bytes) the way <c>compress</c>
/// does, reads everything it describes, and returns the bytes of tensor data it produced.</param>
public sealed record FuzzTarget(string Name, string Extension, Func<string, byte[], long> Parse)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}
