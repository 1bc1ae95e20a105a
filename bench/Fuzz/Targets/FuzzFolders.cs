using System.Runtime.InteropServices;

namespace Compressor.Fuzz;

/// <summary>The folder layout of the targets that read paths a file names (ONNX external data): a base folder holding
/// the model, a data file inside it (<see cref="InsideFile"/>), a link inside it to a file outside
/// (<see cref="LinkName"/> → <c>../outside/secret.bin</c>), and that outside file filled with <see cref="Secret"/>.
/// Invariant: no tensor produced from the model ever holds the secret's bytes — nothing outside the base folder is
/// read, whatever the location strings say (<c>../outside/secret.bin</c>, the link, an absolute path).</summary>
public static class FuzzFolders
{
    /// <summary>The data file inside the base folder (12 float32 values).</summary>
    public const string InsideFile = "w.bin";

    /// <summary>A link inside the base folder to the secret outside it.</summary>
    public const string LinkName = "link.bin";

    /// <summary>The float every value of the secret holds (a pattern no seed tensor holds).</summary>
    public const float Secret = -1234.5f;

    private static readonly Lazy<string> Root = new(Create);

    /// <summary>The base folder (created once per process).</summary>
    public static string Base => Path.Combine(Root.Value, "base");

    /// <summary>The secret file outside the base folder.</summary>
    public static string SecretPath => Path.Combine(Root.Value, "outside", "secret.bin");

    /// <summary>Whether <paramref name="values"/> holds four consecutive values of the secret (a read of it).</summary>
    public static bool HoldsSecret(ReadOnlySpan<float> values)
    {
        int run = 0;
        foreach (var v in values)
        {
            run = v == Secret ? run + 1 : 0;
            if (run >= 4) return true;
        }
        return false;
    }

    private static string Create()
    {
        string root = Path.Combine(Path.GetTempPath(), $"compress-fuzz-folders-{Environment.ProcessId}");
        Directory.CreateDirectory(Path.Combine(root, "base"));
        Directory.CreateDirectory(Path.Combine(root, "outside"));
        byte[] Values(float v) => Enumerable.Range(0, 64).SelectMany(_ => BitConverter.GetBytes(v)).ToArray();
        File.WriteAllBytes(Path.Combine(root, "outside", "secret.bin"), Values(Secret));
        File.WriteAllBytes(Path.Combine(root, "base", InsideFile), [.. Enumerable.Range(0, 64).SelectMany(i => BitConverter.GetBytes(i * 0.25f))]);
        string link = Path.Combine(root, "base", LinkName);
        if (!File.Exists(link)) File.CreateSymbolicLink(link, "../outside/secret.bin");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(root, recursive: true); } catch (IOException) { } };
        return root;
    }
}
