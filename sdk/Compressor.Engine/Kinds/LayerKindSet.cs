using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Compressor.Sdk.Layers;

namespace Compressor.Engine.Kinds;

/// <summary>The compressed layer kinds one run knows (the layers library's and those of the installed plugins),
/// handed to everything that rebuilds or lowers compressed layers: loading and saving checkpoints, frozen copies,
/// resumable state, ONNX export. Immutable; there is no global registry.</summary>
public sealed class LayerKindSet : IEnumerable<ILayerKind>
{
    private readonly Dictionary<string, ILayerKind> _byId;
    private readonly ILayerKind[] _ordered;

    /// <summary>Collects <paramref name="kinds"/>, in the order given.</summary>
    /// <exception cref="CompressException">Two kinds declare the same id, or a kind has no id (kind
    /// <see cref="ErrorKind.PluginUnavailable"/>, one line naming both types).</exception>
    public LayerKindSet(IEnumerable<ILayerKind> kinds) : this([], kinds) { }

    private LayerKindSet(IEnumerable<ILayerKind> existing, IEnumerable<ILayerKind> added)
    {
        _byId = new Dictionary<string, ILayerKind>(StringComparer.Ordinal);
        var ordered = new List<ILayerKind>();
        foreach (var kind in existing.Concat(added))
        {
            ArgumentNullException.ThrowIfNull(kind);
            string id = kind.Id;
            if (string.IsNullOrWhiteSpace(id))
                throw new CompressException(ErrorKind.PluginUnavailable, $"layer kind {Describe(kind.GetType())} has no id");
            if (_byId.TryGetValue(id, out var first))
            {
                if (ReferenceEquals(first, kind)) continue;
                throw new CompressException(ErrorKind.PluginUnavailable,
                    $"compressed layer kind '{id}' is declared twice: by {Describe(first.GetType())} and by {Describe(kind.GetType())}");
            }
            _byId[id] = kind;
            ordered.Add(kind);
        }
        _ordered = ordered.ToArray();
        Ids = _byId.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>No kinds: models that hold no compressed layer.</summary>
    public static LayerKindSet Empty { get; } = new([]);

    /// <summary>The kind ids, sorted (ordinal).</summary>
    public IReadOnlyList<string> Ids { get; }

    /// <summary>The number of kinds.</summary>
    public int Count => _ordered.Length;

    /// <summary>A set with these kinds and <paramref name="more"/> (this set is unchanged).</summary>
    /// <exception cref="CompressException">An id declared twice, as for the constructor.</exception>
    public LayerKindSet With(IEnumerable<ILayerKind> more) => new(_ordered, more);

    /// <summary>Whether a kind of id <paramref name="id"/> is known.</summary>
    public bool Contains(string id) => _byId.ContainsKey(id);

    /// <summary>The kind of id <paramref name="id"/>, or false.</summary>
    public bool TryGet(string id, [NotNullWhen(true)] out ILayerKind? kind) => _byId.TryGetValue(id, out kind);

    /// <summary>The kind of id <paramref name="id"/>.</summary>
    /// <exception cref="CompressException">No such kind (kind <see cref="ErrorKind.InvalidInput"/>): the plugin that
    /// produced it is not installed.</exception>
    public ILayerKind Get(string id) => _byId.TryGetValue(id, out var kind)
        ? kind
        : throw new CompressException(ErrorKind.InvalidInput, $"unknown compressed layer kind '{id}' (is the plugin that produced it installed? known: {KnownText})");

    /// <summary>The known ids for messages: comma-separated, or <c>none</c>.</summary>
    public string KnownText => Ids.Count == 0 ? "none" : string.Join(", ", Ids);

    /// <inheritdoc/>
    public IEnumerator<ILayerKind> GetEnumerator() => ((IEnumerable<ILayerKind>)_ordered).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static string Describe(Type type) => $"{type.FullName} ({type.Assembly.GetName().Name})";
}
