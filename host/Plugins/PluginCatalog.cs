using Compressor.Engine.Kinds;
using Compressor.Engine.Options;
using Compressor.Engine.Plugins;
using Compressor.Layers;
using Compressor.Sdk;
using Compressor.Sdk.Layers;
using Compressor.Sdk.Plugins;
using McMaster.NETCore.Plugins;
using Newtonsoft.Json.Linq;
using TorchSharp;

namespace Compressor.Host.Plugins;

/// <summary>Finds plugins and loads them. Each plugin lives in its own folder with a <c>plugin.json</c>; the
/// manifest is read and checked (<see cref="SdkInfo.IsCompatible(string, string, out string)"/>: same SDK major, a
/// minor no newer than the host's) before any assembly loads; the assembly is loaded in its own load context with
/// the contract, the layers library, TorchSharp and Newtonsoft.Json shared with the host. Any failure becomes a
/// <see cref="PluginStatus"/> with a reason: the catalog never throws because of a plugin.
/// <para>The catalog also collects the compressed layer kinds every available plugin declares: <see cref="Kinds"/> is
/// the layers library's kinds (<see cref="BuiltInLayerKinds.All"/>) plus theirs, the one set a run hands to loading,
/// saving, resumable state and ONNX export. A plugin whose <c>LayerKinds</c> throws, or declares an id already
/// taken, is <see cref="PluginStatus.Malfunctioned"/> and adds nothing.</para></summary>
public sealed class PluginCatalog
{
    /// <summary>The environment variable holding extra plugin folders (separated by ':' on Unix).</summary>
    public const string EnvironmentVariable = "COMPRESS_PLUGIN_PATH";

    private static readonly Type[] SharedTypes = [typeof(ICompressionPlugin), typeof(BuiltInLayerKinds), typeof(torch), typeof(JObject)];

    private PluginCatalog(IReadOnlyList<PluginEntry> entries, IReadOnlyList<string> searched, LayerKindSet kinds, string sdkVersion)
    {
        Entries = entries;
        SearchedDirectories = searched;
        Kinds = kinds;
        SdkVersion = sdkVersion;
    }

    /// <summary>Every plugin found, in search order.</summary>
    public IReadOnlyList<PluginEntry> Entries { get; }

    /// <summary>The root folders searched, in order.</summary>
    public IReadOnlyList<string> SearchedDirectories { get; }

    /// <summary>The compressed layer kinds of a run: the layers library's, then every available plugin's, in search order.</summary>
    public LayerKindSet Kinds { get; }

    /// <summary>The SDK version plugins were checked against (<see cref="SdkInfo.Version"/> unless a test said otherwise).</summary>
    public string SdkVersion { get; }

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

    /// <summary>Discovers and loads the plugins under <paramref name="roots"/>, checking each manifest's SDK version
    /// against <paramref name="sdkVersion"/> (default: this host's, <see cref="SdkInfo.Version"/>).</summary>
    public static PluginCatalog Discover(IReadOnlyList<string> roots, string? sdkVersion = null)
    {
        sdkVersion ??= SdkInfo.Version;
        var entries = new List<PluginEntry>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var kinds = new LayerKindSet(BuiltInLayerKinds.All);
        foreach (var root in roots)
        {
            if (!Directory.Exists(root)) continue;
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                PluginEntry? entry;
                // A broken plugin folder never stops the catalog: whatever goes wrong becomes its status.
                try { entry = Inspect(dir, sdkVersion); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or CompressException)
                {
                    entry = new PluginEntry(Path.GetFileName(dir), dir, null, PluginStatus.InvalidManifest, e is CompressException ? e.Message : OneLine(e), null);
                }
                if (entry is null) continue;
                if (entry.IsAvailable && !ids.Add(entry.Id))
                    entry = entry.Unavailable(PluginStatus.Duplicate, $"another plugin with id '{entry.Id}' was found first");
                if (entry.IsAvailable && entry.LayerKinds.Count > 0)
                {
                    try { kinds = kinds.With(entry.LayerKinds); }
                    catch (Exception e)
                    {
                        // Duplicate ids (with the layers library's or an earlier plugin's), or a kind whose Id throws.
                        ids.Remove(entry.Id);
                        entry = entry.Unavailable(PluginStatus.Malfunctioned,
                            $"{entry.Manifest!.EntryType} declares an unusable layer kind: {(e is CompressException ? e.Message : OneLine(e))}");
                    }
                }
                entries.Add(entry);
            }
        }
        return new PluginCatalog(entries, roots, kinds, sdkVersion);
    }

    /// <summary>The available plugin <paramref name="id"/>.</summary>
    /// <exception cref="CompressException">Not found, or found but not available (with its reason).</exception>
    public PluginEntry Require(string id)
    {
        var entry = Find(id);
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

    /// <summary>The entry of <paramref name="id"/>: the available one if there is one, else the first found, else null.</summary>
    public PluginEntry? Find(string id) => Entries.FirstOrDefault(e => e.Id == id && e.IsAvailable) ?? Entries.FirstOrDefault(e => e.Id == id);

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

    private static PluginEntry? Inspect(string dir, string sdkVersion)
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

        if (!SdkInfo.IsCompatible(manifest.SdkVersion, sdkVersion, out var why))
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Incompatible, why, null);

        string assemblyPath;
        // The assembly must be a regular file that resolves (links followed) inside the plugin's folder.
        try { assemblyPath = Compressor.Engine.IO.InputFiles.ResolveInside(manifestPath, manifest.Assembly, $"assembly {manifest.Assembly}", ErrorKind.PluginUnavailable); }
        catch (CompressException e)
        {
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.LoadFailed,
                File.Exists(Path.Combine(dir, manifest.Assembly)) ? e.Message : $"assembly {manifest.Assembly} not found", null);
        }

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
        }
        catch (Exception e)
        {
            var inner = e is System.Reflection.TargetInvocationException { InnerException: { } ie } ? ie : e;
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Malfunctioned, $"{manifest.EntryType} failed to initialise: {OneLine(inner)}", null);
        }
        IReadOnlyList<ILayerKind> kinds;
        try
        {
            // Read once: the catalog keeps the list, so a plugin's kinds are the same objects for the whole run.
            kinds = [.. instance.LayerKinds ?? []];
            if (kinds.Any(k => k is null)) throw new InvalidOperationException("LayerKinds holds a null kind");
        }
        catch (Exception e)
        {
            return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Malfunctioned, $"{manifest.EntryType}.LayerKinds failed: {OneLine(e)}", null);
        }
        return new PluginEntry(manifest.Id, dir, manifest, PluginStatus.Available, "", instance) { LayerKinds = kinds };
    }

    private static string OneLine(Exception e) => $"{e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}";
}
