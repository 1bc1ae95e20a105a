using System.Diagnostics;

namespace Compressor.Engine.Generation;

/// <summary>Greedy decoding with a key/value cache: the prompt runs once, then each step feeds only the token just
/// chosen, the one with the highest score (the lowest id on a tie, as argmax does), until a stop token, the requested
/// number of new tokens, or the model's longest sequence.</summary>
public static class GreedyDecoding
{
    /// <summary>Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/>.</summary>
    /// <param name="decoder">The decoder (reset first).</param>
    /// <param name="prompt">The prompt's ids (at least one).</param>
    /// <param name="maxNewTokens">The most tokens to generate (≥ 1).</param>
    /// <param name="stopTokens">Ids that end the run once generated (end of sequence); empty: none.</param>
    /// <param name="maxLength">The longest sequence the model takes (prompt + generated), or null for no limit.</param>
    /// <param name="cancellation">Checked before every step.</param>
    /// <param name="onToken">Called with each new token as it is chosen.</param>
    /// <exception cref="CompressException">An empty prompt, or one longer than <paramref name="maxLength"/> (kind
    /// InvalidInput); see <see cref="OrtDecoder.Append"/>.</exception>
    public static GenerationResult Run(OrtDecoder decoder, IReadOnlyList<int> prompt, int maxNewTokens, IReadOnlySet<int> stopTokens, long? maxLength,
        CancellationToken cancellation = default, Action<int>? onToken = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNewTokens, 1);
        if (prompt.Count == 0) throw new CompressException(ErrorKind.InvalidInput, "the prompt has no tokens");
        if (maxLength is { } max && prompt.Count >= max)
            throw new CompressException(ErrorKind.InvalidInput, $"the prompt has {prompt.Count} tokens; the model takes at most {max} in all, so nothing can follow");
        decoder.Reset();
        cancellation.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        var scores = decoder.Append(prompt);
        double prefill = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var tokens = new List<int>();
        int steps = 0;
        string reason = "length";
        while (true)
        {
            int next = ArgMax(scores);
            tokens.Add(next);
            onToken?.Invoke(next);
            if (stopTokens.Contains(next)) { reason = "eos"; break; }
            if (tokens.Count >= maxNewTokens) { reason = "length"; break; }
            if (maxLength is { } m && decoder.Length + 1 > m) { reason = "context"; break; }
            cancellation.ThrowIfCancellationRequested();
            scores = decoder.Append([next]);
            steps++;
        }
        return new GenerationResult(prompt, tokens, reason, prefill, clock.Elapsed.TotalSeconds, steps);
    }

    /// <summary>The index of the highest score, the lowest on a tie (NaN scores never win).</summary>
    public static int ArgMax(ReadOnlySpan<float> scores)
    {
        int best = 0;
        float top = float.NegativeInfinity;
        for (int i = 0; i < scores.Length; i++)
            if (scores[i] > top)
            {
                top = scores[i];
                best = i;
            }
        return best;
    }
}
