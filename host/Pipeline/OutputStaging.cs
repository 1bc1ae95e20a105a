using System.Text.Json;
using Compressor.Engine.IO;
using Compressor.Sdk;

namespace Compressor.Host.Pipeline;

/// <summary>Collects a command's output files in a hidden staging folder inside the output directory and commits them
/// as a set: every file, or none, replaces the folder's previous outputs. Files the output directory already had (the
/// previous run's, the user's own) stay untouched until the commit. Outputs may sit in sub-folders (a deployable model
/// folder's <c>onnx/model.onnx</c>): they are named by their path relative to the output directory.
/// <para>The commit: every final name is checked first (a folder in the way fails the commit before anything is
/// replaced); each previous output is kept as a hard link (or copy) in the staging folder; a commit marker
/// (<c>.commit</c>, the list of names) is written atomically — <b>the commit point</b>; the staged files are renamed
/// over their final names; the staging folder is removed. A rename that fails puts every previous file back and removes
/// the marker (exit 6, the folder as it was). A crash (kill -9, power loss) after the marker leaves the staging folder
/// with its marker, and the next command that stages into the folder — a rerun — completes the commit before doing
/// anything else; a crash before the marker leaves a staging folder without one, which that command removes. Staging
/// folders in use are locked (an advisory lock on <c>.lock</c>, released by the system when their process dies), so a
/// concurrent command never touches another's. Crash points (<see cref="CrashPoints"/>): <c>commit.after-marker</c>,
/// <c>commit.after-move</c> (after each rename).</para></summary>
public sealed class OutputStaging : IDisposable
{
    /// <summary>The prefix of staging folders.</summary>
    public const string Prefix = ".staging-";

    private const string MarkerFile = ".commit", LockFile = ".lock", PreviousFolder = ".previous";

    private readonly FileStream _lock;
    private bool _committed;

    /// <summary>Creates the output directory (if needed), completes or removes what interrupted commands left in it,
    /// and creates a fresh, locked staging folder.</summary>
    /// <exception cref="CompressException">An empty path, a path that is a file, or a folder that cannot be created or written.</exception>
    public OutputStaging(string outputDirectory)
    {
        if (string.IsNullOrWhiteSpace(outputDirectory))
            throw new CompressException(ErrorKind.InvalidOptions, "--out: the output path is empty");
        OutputDirectory = Path.GetFullPath(outputDirectory);
        if (File.Exists(OutputDirectory))
            throw new CompressException(ErrorKind.OutputFailed, $"--out {outputDirectory} is a file, not a folder");
        try { Directory.CreateDirectory(OutputDirectory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot create {outputDirectory}: {e.Message}");
        }
        Recovered = Recover(OutputDirectory);
        StagingDirectory = Path.Combine(OutputDirectory, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(StagingDirectory);
            _lock = new FileStream(Path.Combine(StagingDirectory, LockFile), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(StagingDirectory);
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write in {outputDirectory}: {e.Message}");
        }
    }

    /// <summary>The final folder.</summary>
    public string OutputDirectory { get; }

    /// <summary>Where files are written before <see cref="Commit"/>.</summary>
    public string StagingDirectory { get; }

    /// <summary>The interrupted commits this staging completed when it was created (their staging folders' names).</summary>
    public IReadOnlyList<string> Recovered { get; }

    /// <summary>The staging path of output <paramref name="fileName"/> (a name or a relative path; its folder is created).</summary>
    public string PathOf(string fileName)
    {
        string path = Path.Combine(StagingDirectory, fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }

    /// <summary>The final path of output <paramref name="fileName"/>.</summary>
    public string FinalPathOf(string fileName) => Path.Combine(OutputDirectory, fileName);

    /// <summary>Commits every staged file as a set (see the class summary) and removes the staging folder.</summary>
    /// <exception cref="CompressException">Of kind <see cref="ErrorKind.OutputFailed"/>, with the folder as it was.</exception>
    public IReadOnlyList<string> Commit()
    {
        string previous = Path.Combine(StagingDirectory, PreviousFolder);
        var names = Directory.GetFiles(StagingDirectory, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(StagingDirectory, f))
            .Where(n => n is not (LockFile or MarkerFile) && !n.StartsWith(PreviousFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (Directory.Exists(FinalPathOf(name)))
                throw new CompressException(ErrorKind.OutputFailed, $"cannot write {FinalPathOf(name)}: a folder is in the way (nothing was replaced)");
            for (string? dir = Path.GetDirectoryName(name); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
                if (File.Exists(FinalPathOf(dir)))
                    throw new CompressException(ErrorKind.OutputFailed, $"cannot write {FinalPathOf(name)}: {FinalPathOf(dir)} is a file, not a folder (nothing was replaced)");
        }
        string marker = Path.Combine(StagingDirectory, MarkerFile);
        try
        {
            Directory.CreateDirectory(previous);
            foreach (var name in names)
                if (File.Exists(FinalPathOf(name)))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(previous, name))!);
                    KeepCopy(FinalPathOf(name), Path.Combine(previous, name));
                }
            AtomicFile.WriteAllText(marker, JsonSerializer.Serialize(names));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot commit outputs into {OutputDirectory}: {e.Message} (nothing was replaced)");
        }
        CrashPoints.Reach("commit.after-marker");
        var moved = new List<string>();
        try
        {
            foreach (var name in names)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(FinalPathOf(name))!);
                File.Move(Path.Combine(StagingDirectory, name), FinalPathOf(name), overwrite: true);
                moved.Add(name);
                CrashPoints.Reach("commit.after-move");
            }
            AtomicFile.SyncDirectory(OutputDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            RollBack(moved, previous);
            TryDeleteFile(marker);
            throw new CompressException(ErrorKind.OutputFailed, $"cannot move outputs into {OutputDirectory}: {e.Message} (the previous outputs were put back)");
        }
        _committed = true;
        _lock.Dispose();
        TryDelete(StagingDirectory);
        return names.Select(FinalPathOf).ToList();
    }

    /// <summary>Removes the staging folder if <see cref="Commit"/> did not run.</summary>
    public void Dispose()
    {
        _lock.Dispose();
        if (!_committed) TryDelete(StagingDirectory);
    }

    /// <summary>Completes the commits interrupted in <paramref name="outputDirectory"/> (staging folders with a commit
    /// marker, whose process is gone) and removes the other abandoned staging folders; returns the completed ones.
    /// Staging folders still locked by their process are left alone.</summary>
    public static IReadOnlyList<string> Recover(string outputDirectory)
    {
        var completed = new List<string>();
        if (!Directory.Exists(outputDirectory)) return completed;
        foreach (var dir in Directory.GetDirectories(outputDirectory, Prefix + "*").Order(StringComparer.Ordinal))
        {
            // Only folders named exactly as this class names them (.staging-PID-32 hex digits): the folder may be a
            // shared one (export writes beside its output file), and other tools' folders are not ours to touch.
            if (!System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(dir), @"^\.staging-[0-9]+-[0-9a-f]{32}$")) continue;
            if (IsInUse(dir)) continue;
            string marker = Path.Combine(dir, MarkerFile);
            try
            {
                if (File.Exists(marker))
                {
                    var names = JsonSerializer.Deserialize<List<string>>(File.ReadAllText(marker)) ?? [];
                    foreach (var name in names)
                    {
                        // Names are checked again: a marker is only ever written by a commit, but the folder is the user's.
                        if (!IsRelativeInside(name)) continue;
                        string staged = Path.Combine(dir, name);
                        if (!File.Exists(staged)) continue;
                        string final = Path.Combine(outputDirectory, name);
                        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
                        File.Move(staged, final, overwrite: true);
                    }
                    AtomicFile.SyncDirectory(outputDirectory);
                    completed.Add(Path.GetFileName(dir));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new CompressException(ErrorKind.OutputFailed, $"cannot complete the interrupted commit in {dir}: {e.Message}");
            }
            TryDelete(dir);
        }
        return completed;
    }

    /// <summary>Whether <paramref name="name"/> is a relative path that stays inside its folder (no root, no <c>..</c>).</summary>
    private static bool IsRelativeInside(string name) =>
        name.Length > 0 && !Path.IsPathRooted(name) && name.Split('/', '\\').All(part => part.Length > 0 && part is not ("." or ".."));

    /// <summary>Whether a live process holds the staging folder <paramref name="dir"/>: its lock file is locked, or (a
    /// folder from a version without lock files) the process id in its name is running.</summary>
    private static bool IsInUse(string dir)
    {
        string lockPath = Path.Combine(dir, LockFile);
        if (File.Exists(lockPath))
        {
            try
            {
                using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                return false;
            }
            catch (IOException) { return true; }
            catch (UnauthorizedAccessException) { return true; }
        }
        string rest = Path.GetFileName(dir)[Prefix.Length..];
        int dash = rest.IndexOf('-');
        if (dash > 0 && int.TryParse(rest[..dash], out int pid) && pid != Environment.ProcessId)
        {
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
                return !p.HasExited;
            }
            catch (ArgumentException) { return false; }
            catch (InvalidOperationException) { return false; }
        }
        return false;
    }

    /// <summary>Keeps <paramref name="file"/> as <paramref name="copy"/>: a hard link (no bytes copied) where the system
    /// and file system allow it, else a copy.</summary>
    private static void KeepCopy(string file, string copy)
    {
        try
        {
            if (!OperatingSystem.IsWindows() && link(file, copy) == 0) return;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
        File.Copy(file, copy, overwrite: true);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int link([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string existing,
        [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string created);

    private void RollBack(List<string> moved, string previous)
    {
        foreach (var name in Enumerable.Reverse(moved))
        {
            try
            {
                string kept = Path.Combine(previous, name);
                if (File.Exists(kept)) File.Move(kept, FinalPathOf(name), overwrite: true);
                else File.Delete(FinalPathOf(name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static void TryDeleteFile(string file)
    {
        try { File.Delete(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
