using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;

namespace Compressor.Host.Pipeline;

/// <summary>Runs one plugin step, on its own thread when a time limit applies: past the limit the step's
/// cancellation is signalled, the plugin gets a short grace period to stop, and the run fails with
/// <see cref="ErrorKind.TimedOut"/> whether or not the plugin cooperated (a plugin stuck in native code cannot be
/// stopped inside the process; the host exits without writing anything, which ends it).</summary>
public static class PluginStep
{
    /// <summary>How long a plugin may take to stop after its cancellation is signalled.</summary>
    public static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(5);

    /// <summary>Runs <paramref name="entry"/>'s plugin, which rewrites the context's model in place.</summary>
    public static void Run(PluginEntry entry, PluginContext context, PluginOptions options, double? timeoutSeconds, CancellationTokenSource cancellation)
    {
        if (timeoutSeconds is not { } seconds)
        {
            entry.Instance!.Run(context, options);
            return;
        }
        var task = Task.Factory.StartNew(() => entry.Instance!.Run(context, options), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(seconds)))
        {
            task.GetAwaiter().GetResult();   // the plugin's own exception, if it threw
            return;
        }
        cancellation.Cancel();
        try { task.Wait(GracePeriod); }
        catch (AggregateException) { /* the plugin stopped by throwing: the timeout is still the reason */ }
        throw new CompressException(ErrorKind.TimedOut, $"plugin '{entry.Id}' exceeded --timeout {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s and was stopped");
    }
}
