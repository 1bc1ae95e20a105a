using System.Security.Cryptography;
using Compressor.Sdk;

namespace Compressor.Host.Results;

/// <summary>The input checkpoint of a run, as recipe.json records it: <c>input</c> {path, sha256, bytes}.</summary>
/// <param name="Path">Its full path.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of its bytes.</param>
/// <param name="Bytes">Its size.</param>
public sealed record InputFile(string Path, string Sha256, long Bytes)
{
    /// <summary>Describes the file at <paramref name="path"/>.</summary>
    /// <exception cref="CompressException">No such file (kind <see cref="ErrorKind.InvalidInput"/>).</exception>
    public static InputFile Of(string path)
    {
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no such file");
        return new InputFile(System.IO.Path.GetFullPath(path), Sha256Of(path), new FileInfo(path).Length);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }
}
