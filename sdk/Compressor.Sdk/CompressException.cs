namespace Compressor.Sdk;

/// <summary>What kind of problem an error is; the host maps each kind to one exit code.</summary>
public enum ErrorKind
{
    /// <summary>A command-line or recipe option is unknown, malformed or out of range.</summary>
    InvalidOptions,
    /// <summary>An input file is missing, truncated, malformed or unsafe.</summary>
    InvalidInput,
    /// <summary>A plugin could not be found, loaded or constructed, or targets another SDK major.</summary>
    PluginUnavailable,
    /// <summary>A plugin failed while running.</summary>
    PluginFailed,
    /// <summary>An output could not be written.</summary>
    OutputFailed,
    /// <summary>The produced model failed verification (export, parity, size or compatibility gate).</summary>
    VerificationFailed,
    /// <summary>The work was cancelled.</summary>
    Cancelled,
    /// <summary>A plugin ran past its time limit.</summary>
    TimedOut,
    /// <summary>A plugin changed or replaced layers outside the include/exclude selection it was given.</summary>
    SelectionViolated,
    /// <summary>The work would not fit the memory limit (<c>--max-memory</c>); raised before allocating it.</summary>
    MemoryLimit,
}

/// <summary>An error meant for the user: its message is one line that names the problem. Everything the SDK and
/// the host raise on bad input derives from it, so the host can print the message and pick the exit code.</summary>
/// <remarks>Messages often quote text from the input (tensor names, JSON keys, pickle strings), which a hostile file
/// can fill with line breaks or terminal escapes: the constructor writes control characters as escapes (<c>\n</c>,
/// <c>\u001b</c>) and cuts the message at <see cref="MaxMessageLength"/> characters, so the message is always one
/// printable line.</remarks>
public class CompressException : Exception
{
    /// <summary>The longest message kept (longer ones end with an ellipsis).</summary>
    public const int MaxMessageLength = 2000;

    /// <summary>Creates the error.</summary>
    public CompressException(ErrorKind kind, string message, Exception? inner = null) : base(OneLine(message), inner) => Kind = kind;

    /// <summary>The category, which decides the exit code.</summary>
    public ErrorKind Kind { get; }

    /// <summary><paramref name="text"/> as one printable line: control characters escaped, cut at
    /// <see cref="MaxMessageLength"/>.</summary>
    public static string OneLine(string text)
    {
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, MaxMessageLength) + 8);
        foreach (char c in text)
        {
            if (sb.Length >= MaxMessageLength) return sb.Append('…').ToString();
            switch (c)
            {
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    // Also the invisible controls that reorder or hide text (bidirectional overrides and isolates,
                    // zero-width marks), which a file name or tensor name could carry to the terminal.
                    if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085' or '\u061c' or '\ufeff' or (>= '\u200b' and <= '\u200f')
                        or (>= '\u202a' and <= '\u202e') or (>= '\u2066' and <= '\u2069')) sb.Append($"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }
}
