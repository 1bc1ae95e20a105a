using Compressor.Sdk;

namespace Compressor.Host.Pipeline;

/// <summary>Collects a run's output files in a hidden staging folder inside the output directory and moves them
/// under their final names only once every one is complete; on failure the staging folder is removed. Files the
/// output directory already had stay untouched until they are replaced by complete new ones.</summary>
public sealed class OutputStaging : IDisposable
{
    private bool _committed;

    /// <summary>Creates the output directory (if needed) and a fresh staging folder in it.</summary>
    /// <exception cref="CompressException">The output path is a file or cannot be created.</exception>
    public OutputStaging(string outputDirectory)
    {
        OutputDirectory = Path.GetFullPath(outputDirectory);
        if (File.Exists(OutputDirectory))
            throw new CompressException(ErrorKind.OutputFailed, $"--out {outputDirectory} is a file, not a folder");
        try { Directory.CreateDirectory(OutputDirectory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot create {outputDirectory}: {e.Message}");
        }
        StagingDirectory = Path.Combine(OutputDirectory, $".staging-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try { Directory.CreateDirectory(StagingDirectory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot write in {outputDirectory}: {e.Message}");
        }
    }

    /// <summary>The final folder.</summary>
    public string OutputDirectory { get; }

    /// <summary>Where files are written before <see cref="Commit"/>.</summary>
    public string StagingDirectory { get; }

    /// <summary>The staging path of output <paramref name="fileName"/>.</summary>
    public string PathOf(string fileName) => Path.Combine(StagingDirectory, fileName);

    /// <summary>The final path of output <paramref name="fileName"/>.</summary>
    public string FinalPathOf(string fileName) => Path.Combine(OutputDirectory, fileName);

    /// <summary>Moves every staged file to its final name (each move is an atomic rename) and removes the staging folder.</summary>
    public IReadOnlyList<string> Commit()
    {
        var moved = new List<string>();
        try
        {
            // Files in sub-folders (a deployable folder's onnx/model.onnx) keep their relative paths.
            foreach (var file in Directory.GetFiles(StagingDirectory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string target = Path.Combine(OutputDirectory, Path.GetRelativePath(StagingDirectory, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Move(file, target, overwrite: true);
                moved.Add(target);
            }
            Directory.Delete(StagingDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressException(ErrorKind.OutputFailed, $"cannot move outputs into {OutputDirectory}: {e.Message}");
        }
        _committed = true;
        return moved;
    }

    /// <summary>Removes the staging folder if <see cref="Commit"/> did not run.</summary>
    public void Dispose()
    {
        if (_committed) return;
        try { if (Directory.Exists(StagingDirectory)) Directory.Delete(StagingDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
