namespace Compressor.Sdk.Data;

/// <summary>What kind of samples a data set yields.</summary>
public enum DataKind
{
    /// <summary>Images [N, C, H, W] in [0, 1] with integer class labels.</summary>
    Images,
    /// <summary>Token id sequences [N, T] (int64) whose targets are the next tokens [N, T].</summary>
    Tokens,
    /// <summary>Padded WordPiece sentences [N, T] (int64, 0 = padding) for encoders; no targets.</summary>
    Sentences,
}
