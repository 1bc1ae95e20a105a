namespace Compressor.Host.Tests;

/// <summary>The real executable: exit codes, stdout/stderr separation, and the usage error path.</summary>
public sealed class ProcessTests(HostFixture fx) : IClassFixture<HostFixture>
{
    [Fact]
    public void PluginListRunsAsAProcess()
    {
        var (code, stdout, stderr) = HostFixture.Process("plugin", "list", "--format", "json");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"rtn\"", stdout);
    }

    [Fact]
    public void ThrowingPluginExitsFiveAsAProcessAndWritesNothing()
    {
        string outDir = fx.NewDir("proc");
        var (code, stdout, stderr) = HostFixture.Process("run", "throws-in-run", "--model", fx.ModelPath, "--out", outDir, "--plugins", fx.FaultyPlugins, "-v", "m");
        Assert.Equal((int)ExitCode.PluginFailed, code);
        Assert.Equal("", stdout);
        Assert.Contains("run exploded on purpose", stderr);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(outDir), p => !Path.GetFileName(p).StartsWith('.'));
    }

    [Fact]
    public void UnknownCommandIsAUsageError()
    {
        var (code, _, stderr) = HostFixture.Process("frobnicate");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.StartsWith("error:", stderr);
    }

    [Fact]
    public void HelpDescribesTheCommands()
    {
        var (code, stdout, _) = HostFixture.Process("--help");
        Assert.Equal(0, code);
        Assert.Contains("plugin", stdout);
        Assert.Contains("run", stdout);
    }
}
