namespace Compressor.Host.Commands;

/// <summary><c>compress generate --format json</c>: the prompt and the greedy continuation, as ids and text, why it
/// stopped, and how fast it ran.</summary>
/// <param name="SchemaVersion">The JSON schema version.</param>
/// <param name="Model">The ONNX model that ran.</param>
/// <param name="Prompt">The prompt as given.</param>
/// <param name="PromptTokens">The prompt's ids (with the tokenizer's template tokens, e.g. a begin-of-text id).</param>
/// <param name="Tokens">The generated ids (the end-of-sequence id included when one ended the run).</param>
/// <param name="Text">The generated text (special tokens left out), without the prompt.</param>
/// <param name="StopReason"><c>eos</c>, <c>length</c> (--max-new-tokens) or <c>context</c> (the model's longest sequence).</param>
/// <param name="PrefillMs">Milliseconds of the prompt's run (to the first generated token).</param>
/// <param name="DecodeTokensPerSecond">Tokens per second of the steps after the first token (null with one token).</param>
/// <param name="Threads">ONNX Runtime intra-op threads.</param>
/// <param name="OrtVersion">The ONNX Runtime version.</param>
public sealed record GenerateOutput(int SchemaVersion, string Model, string Prompt, IReadOnlyList<int> PromptTokens, IReadOnlyList<int> Tokens, string Text,
    string StopReason, double PrefillMs, double? DecodeTokensPerSecond, int Threads, string OrtVersion);
