namespace Compressor.Engine.Generation;

/// <summary>One cache input of a <see cref="DecoderGraph"/>.</summary>
/// <param name="Name">The input (<c>past_key_values.N.key</c>).</param>
/// <param name="Present">The output that feeds it at the next step (<c>present.N.key</c>).</param>
/// <param name="Heads">Its key/value heads.</param>
/// <param name="HeadDim">Its head width.</param>
public sealed record CacheInput(string Name, string Present, int Heads, int HeadDim);
