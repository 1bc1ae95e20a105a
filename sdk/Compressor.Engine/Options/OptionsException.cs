namespace Compressor.Engine.Options;

/// <summary>An option is unknown, malformed or out of range; the message is one line naming it and what is allowed.</summary>
public sealed class OptionsException : CompressException
{
    /// <summary>Creates the error.</summary>
    public OptionsException(string message) : base(ErrorKind.InvalidOptions, message) { }
}
