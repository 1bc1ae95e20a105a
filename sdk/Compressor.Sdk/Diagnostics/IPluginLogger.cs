namespace Compressor.Sdk.Diagnostics;

/// <summary>Where plugins write log messages (the host sends them to stderr, filtered by verbosity).</summary>
public interface IPluginLogger
{
    /// <summary>Writes one message.</summary>
    void Log(LogLevel level, string message);
}

/// <summary>Shorthands for <see cref="IPluginLogger"/>.</summary>
public static class PluginLoggerExtensions
{
    /// <summary>Logs at <see cref="LogLevel.Information"/>.</summary>
    public static void Info(this IPluginLogger log, string message) => log.Log(LogLevel.Information, message);

    /// <summary>Logs at <see cref="LogLevel.Warning"/>.</summary>
    public static void Warn(this IPluginLogger log, string message) => log.Log(LogLevel.Warning, message);

    /// <summary>Logs at <see cref="LogLevel.Debug"/>.</summary>
    public static void Debug(this IPluginLogger log, string message) => log.Log(LogLevel.Debug, message);
}

/// <summary>A logger that drops everything.</summary>
public sealed class NullPluginLogger : IPluginLogger
{
    /// <summary>The instance.</summary>
    public static NullPluginLogger Instance { get; } = new();

    /// <inheritdoc/>
    public void Log(LogLevel level, string message) { }
}
