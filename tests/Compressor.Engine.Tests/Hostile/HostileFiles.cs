using System.Diagnostics;

namespace Compressor.Engine.Tests.Hostile;

/// <summary>Fixture helpers for issue 22's hostile inputs: a scratch folder, symbolic links and FIFOs made by the tests.</summary>
internal sealed class HostileFiles : IDisposable
{
    public HostileFiles() => Root = Directory.CreateTempSubdirectory("hostile-").FullName;

    public string Root { get; }

    public string Dir(string name) => Directory.CreateDirectory(Path.Combine(Root, name)).FullName;

    public string File(string relative, byte[] bytes)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public static void Link(string link, string target) => System.IO.File.CreateSymbolicLink(link, target);

    /// <summary>A FIFO (named pipe) at <paramref name="path"/>: opening it for reading would wait for a writer forever.</summary>
    public static string Fifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    /// <summary>Runs <paramref name="action"/> on another thread and fails the test if it does not end within
    /// <paramref name="seconds"/> (a read that blocks on a FIFO would hang the test run otherwise).</summary>
    public static T Within<T>(double seconds, Func<T> action)
    {
        var task = Task.Factory.StartNew(action, TaskCreationOptions.LongRunning);
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"did not end within {seconds} s (blocked on a FIFO or device?)");
        return task.Result;
    }

    public static CompressException Refused(Action action, double seconds = 30) =>
        Within(seconds, () => Assert.Throws<CompressException>(action));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
