namespace Compressor.Host.Plugins;

/// <summary>The state of a discovered plugin.</summary>
public enum PluginStatus
{
    /// <summary>Loaded and ready.</summary>
    Available,
    /// <summary>The folder has no plugin.json.</summary>
    NoManifest,
    /// <summary>plugin.json is unreadable or invalid.</summary>
    InvalidManifest,
    /// <summary>Built for another SDK major version, or for a newer minor version than this host's SDK.</summary>
    Incompatible,
    /// <summary>The assembly or its entry type could not be loaded.</summary>
    LoadFailed,
    /// <summary>The entry type's constructor threw, or the plugin's declarations are invalid: its options, or its layer
    /// kinds (<c>LayerKinds</c> threw, or declared an id that another kind already has).</summary>
    Malfunctioned,
    /// <summary>Another plugin with the same id was found first.</summary>
    Duplicate,
}
