namespace Compressor.Host.Native;

/// <summary>The shared libraries mapped into this process, from <c>/proc/self/maps</c> (Linux): which file a library
/// was actually loaded from, whatever asked for it.</summary>
public static class LoadedLibraries
{
    /// <summary>The full path of the mapped library whose file name is <paramref name="fileName"/>, or null.</summary>
    public static string? Find(string fileName)
    {
        const string maps = "/proc/self/maps";
        if (!OperatingSystem.IsLinux() || !File.Exists(maps)) return null;
        try
        {
            foreach (var line in File.ReadLines(maps))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                string path = line[slash..].Trim();
                if (path.EndsWith(" (deleted)", StringComparison.Ordinal)) path = path[..^" (deleted)".Length];
                if (string.Equals(Path.GetFileName(path), fileName, StringComparison.Ordinal)) return path;
            }
        }
        catch (IOException)
        {
            // An unreadable maps file: nothing known.
        }
        return null;
    }
}
