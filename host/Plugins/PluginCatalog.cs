using Compressor.Sdk;
using Compressor.Sdk.Compression;
using Compressor.Sdk.Options;
using Compressor.Sdk.Plugins;
using McMaster.NETCore.Plugins;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Host.Plugins;

/// <summary>Finds plugins and loads them. Each plugin lives in its own folder with a <c>plugin.json</c>; the
/// manifest is read and checked (SDK major version) before any assembly loads; the assembly is loaded in its own
/// load context with the SDK, TorchSharp and Newtonsoft.Json shared with the host. Any failure becomes a
/// <see cref="PluginStatus"/> with a reason: the catalog never throws because of a plugin.</summary>
public sealed class PluginCatalog
{
    /// <summary>The environment variable holding extra plugin folders (separated by ':' on Unix).</summary>
    public const string EnvironmentVariable = "COMPRESS_PLUGIN_PATH";

    private static readonly Type[] SharedTypes = [typeof(ICompressionPlugin), typeof(torch), typeof(JObject)];

    private PluginCatalog(IReadOnlyList<PluginEntry> entries, IReadOnlyList<string> searched)
    {
        Entries = entries;
        SearchedDirectories = searched;
    }

    /// <summary>Every plugin found, in search order.</summary>
    public IReadOnlyList<PluginEntry> Entries { get; }

    /// <summary>The root folders searched, in order.</summary>
    public IReadOnlyList<string> SearchedDirectories { get; }

    /// <summary>The default search path: the given folders, then <see cref="EnvironmentVariable"/>'s, then the
    /// <c>plugins</c> folder beside the executable.</summary>
    public static IReadOnlyList<string> SearchPath(IEnumerable<string> explicitDirectories)
    {
        var dirs = new List<string>(explicitDirectories);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) dirs.AddRange(env.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        dirs.Add(Path.Combine(AppContext.BaseDirectory, "plugins"));
        return dirs.Select(Path.GetFullPath).Distinct().ToList();
    }

    /// <summary>Discovers and loads the plugins under <paramref name="roots"/>.</summary>
    public static PluginCatalog Discover(IReadOnlyList<string> roots)
    {
        var entries = new List<PluginEntry>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in roots)
        {
            if (!Directory.Exists(root)) continue;
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                var entry = Inspect(dir);
                if (entry is null) continue;
                if (entry.Status == PluginStatus.Available && !ids.Add(entry.Id))
                    entry = entry with { Status = PluginStatus.Duplicate, Reason = $"another plugin with id '{entry.Id}' was found first", Instance = null };
                entries.Add(entry);
            }
        }
        return new PluginCatalog(entries, roots);
    }

    /// <summary>The available plugin <paramref name="id"/>.</summary>
    /// <exception cref="CompressException">Not found, or found but not available (with its reason).</exception>
    public PluginEntry Require(string id)
    {
        var entry = Entries.FirstOrDefault(e => e.Id == id && e.IsAvailable) ?? Entries.FirstOrDefault(e => e.Id == id);
        if (entry is null)
        {
            var available = Entries.Where(e => e.IsAvailable).Select(e => e.Id).ToList();
            throw new CompressException(ErrorKind.PluginUnavailable,
                $"no plugin '{id}' (available: {(available.Count == 0 ? "none" : string.Join(", ", available))}; searched {string.Join(", ", SearchedDirectories)})");
        }
        if (!entry.IsAvailable)
            throw new CompressException(ErrorKind.PluginUnavailable, $"plugin '{id}' is {Describe(entry.Status)}: {entry.Reason}");
        return entry;
    }

    /// <summary>The status in words.</summary>
    public static string Describe(PluginStatus status) => status switch
    {
        PluginStatus.Available => "available",
        PluginStatus.NoManifest => "missing its manifest",
        PluginStatus.InvalidManifest => "invalid",
        PluginStatus.Incompatible => "incompatible",
        PluginStatus.LoadFailed => "not loadable",
        PluginStatus.Malfunctioned => "malfunctioning",
        PluginStatus.Duplicate => "a duplicate",
        _ => status.ToString(),
    };

    private static PluginEntry? Inspect(string dir)
    {
        string folder = Path.GetFileName(dir);
        string manifestPath = Path.Combine(dir, PluginManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            // Only folders that look like plugins (they hold assemblies) are reported.
            return Directory.EnumerateFiles(dir, "*.dll").Any()
                ? new PluginEntry(folder, dir, null, PluginStatus.NoManifest, $"no {PluginManifest.FileName} in {dir}", null)
                : null;
        }
        PluginManifest manifest;
        try { manifest = PluginManifest.Read(manifestPath); }
        catch (CompressException e) { return new PluginEntry(folder, dir, null, PluginStatus.InvalidManifest, e.Message, null); }

        if (!SdkInfo.IsCompatible(manifest.SdkVersion, out var why))
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Incompatible, why, null);

        string assemblyPath = Path.Combine(dir, manifest.Assembly);
        if (!File.Exists(assemblyPath))
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.LoadFailed, $"assembly {manifest.Assembly} not found", null);

        Type? type;
        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(assemblyPath, isUnloadable: false, sharedTypes: SharedTypes);
            var assembly = loader.LoadDefaultAssembly();
            type = assembly.GetType(manifest.EntryType, throwOnError: false);
        }
        catch (Exception e)
        {
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.LoadFailed, $"cannot load {manifest.Assembly}: {OneLine(e)}", null);
        }
        if (type is null)
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.LoadFailed, $"entry type {manifest.EntryType} not found in {manifest.Assembly}", null);
        if (!typeof(ICompressionPlugin).IsAssignableFrom(type))
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.LoadFailed,
                $"{manifest.EntryType} does not implement {nameof(ICompressionPlugin)} of this SDK (was it built against its own copy of Compressor.Sdk?)", null);

        ICompressionPlugin instance;
        try
        {
            instance = (ICompressionPlugin)Activator.CreateInstance(type)!;
            OptionsSchema.For(instance.OptionsType);
            foreach (var factory in instance.LayerFactories) CompressedLayerRegistry.Register(factory);
        }
        catch (Exception e)
        {
            var inner = e is System.Reflection.TargetInvocationException { InnerException: { } ie } ? ie : e;
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Malfunctioned, $"{manifest.EntryType} failed to initialise: {OneLine(inner)}", null);
        }
        return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Available, "", instance);
    }

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}";
}
