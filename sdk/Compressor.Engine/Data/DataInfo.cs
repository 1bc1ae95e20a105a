using Compressor.Sdk.Data;

namespace Compressor.Engine.Data;

/// <summary>Facts about a data source that model configs need (input shape, classes, vocabulary).</summary>
/// <param name="Name">Source name, e.g. <c>digits</c>.</param>
/// <param name="Kind">Images or tokens.</param>
/// <param name="SampleShape">Shape of one input sample (e.g. [1, 8, 8] or [128]).</param>
/// <param name="Classes">Number of classes (images), else 0.</param>
/// <param name="VocabularySize">Vocabulary size (tokens), else 0.</param>
/// <param name="Tokenizer">Tokenizer name (tokens: <c>char</c> or <c>gpt2</c>), else null.</param>
public sealed record DataInfo(string Name, DataKind Kind, long[] SampleShape, int Classes, int VocabularySize, string? Tokenizer);
