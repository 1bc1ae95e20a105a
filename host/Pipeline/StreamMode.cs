namespace Compressor.Host.Pipeline;

/// <summary>Whether a run holds one transformer block at a time (<c>--stream</c>).</summary>
public enum StreamMode
{
    /// <summary>Stream when every step works block by block, the input is a decoder, and the whole model does not fit
    /// <c>--max-memory</c> (the default).</summary>
    Auto,

    /// <summary>Always stream (an error when a step or the input cannot be streamed).</summary>
    On,

    /// <summary>Never stream: the whole model is loaded.</summary>
    Off,
}
