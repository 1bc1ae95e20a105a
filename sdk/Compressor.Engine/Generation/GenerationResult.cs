namespace Compressor.Engine.Generation;

/// <summary>What <see cref="GreedyDecoding"/> produced.</summary>
/// <param name="Prompt">The prompt's token ids.</param>
/// <param name="Tokens">The generated token ids (the stop token included when one ended the run).</param>
/// <param name="StopReason"><c>eos</c> (a stop token), <c>length</c> (the requested number of tokens) or
/// <c>context</c> (the model's longest sequence).</param>
/// <param name="PrefillSeconds">Time of the prompt's run (to the first generated token).</param>
/// <param name="DecodeSeconds">Time of the decoding steps after it.</param>
/// <param name="DecodeSteps">Decoding steps timed (one token each).</param>
public sealed record GenerationResult(IReadOnlyList<int> Prompt, IReadOnlyList<int> Tokens, string StopReason, double PrefillSeconds, double DecodeSeconds, int DecodeSteps)
{
    /// <summary>Tokens per second of the decoding steps (NaN without any).</summary>
    public double DecodeTokensPerSecond => DecodeSteps == 0 || DecodeSeconds <= 0 ? double.NaN : DecodeSteps / DecodeSeconds;
}
