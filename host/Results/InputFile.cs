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
        if (Compressor.Engine.Checkpoints.ModelFolder.IsFolder(path)) return OfFolder(path);
        if (!File.Exists(path)) throw new CompressException(ErrorKind.InvalidInput, $"{path}: no such file");
        return new InputFile(System.IO.Path.GetFullPath(path), Sha256Of(path), new FileInfo(path).Length);
    }

    /// <summary>A model folder: its path, and the SHA-256 and size of its config.json followed by its weight files (the
    /// shard index and every shard, in index order) as one byte stream.</summary>
    private static InputFile OfFolder(string path)
    {
        var folder = Compressor.Engine.Checkpoints.ModelFolder.Open(path);
        var files = new List<string> { folder.ConfigPath, folder.WeightsPath };
        using (var reader = Compressor.Engine.Checkpoints.CheckpointFormats.Open(folder.WeightsPath))
            if (reader is Compressor.Engine.Storage.ShardedCheckpointReader sharded) files.AddRange(sharded.ShardPaths);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        var buffer = new byte[1 << 20];
        foreach (var file in files)
        {
            using var fs = File.OpenRead(file);
            int n;
            while ((n = fs.Read(buffer, 0, buffer.Length)) > 0) hash.AppendData(buffer, 0, n);
            bytes += fs.Length;
        }
        return new InputFile(folder.Directory, Convert.ToHexStringLower(hash.GetHashAndReset()), bytes);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }
}
