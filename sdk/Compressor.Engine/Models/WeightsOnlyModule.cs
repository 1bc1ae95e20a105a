using System.Text.RegularExpressions;
using Compressor.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;
using Compressor.Sdk.Models;

namespace Compressor.Engine.Models;

/// <summary>A module tree rebuilt from tensor names alone, for checkpoints of unknown architecture: <c>X.weight</c>
/// of rank 2 becomes a linear layer (or an embedding when the name says so), of rank 4 a convolution, with
/// <c>X.bias</c> when present; every other tensor is kept as a parameter (floats) or buffer (integers) under its
/// name. It has no forward; data-free plugins rewrite it and the tensors round-trip unchanged.</summary>
public sealed partial class WeightsOnlyModule : LayerContainer
{
    [GeneratedRegex(@"(^|\.)(embed|embeddings?|wte|wpe|word_embeddings|position_embeddings|token_type_embeddings|tok_embeddings)$", RegexOptions.CultureInvariant)]
    private static partial Regex EmbeddingName();

    private WeightsOnlyModule() : base(nameof(WeightsOnlyModule)) { }

    /// <summary>Builds the tree from named tensors (shapes and dtypes only; values are loaded separately).</summary>
    public static WeightsOnlyModule Build(IReadOnlyList<(string Name, long[] Shape, ScalarType DType)> tensors)
    {
        var root = new WeightsOnlyModule();
        var byName = new Dictionary<string, (string Name, long[] Shape, ScalarType DType)>();
        foreach (var t in tensors) byName[t.Name] = t;
        var consumed = new HashSet<string>();
        foreach (var (name, shape, dtype) in tensors)
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || !dtype.IsFloatingPoint()) continue;
            string prefix = name[..^".weight".Length];
            bool hasBias = byName.TryGetValue(prefix + ".bias", out var bias) && bias.Shape.Length == 1
                           && shape.Length > 0 && bias.Shape[0] == shape[0] && bias.DType.IsFloatingPoint();
            nn.Module? layer = shape.Length switch
            {
                2 when !hasBias && EmbeddingName().IsMatch(prefix) => Memory.DeclaredModules.Embedding(shape[0], shape[1]),
                2 => nn.Linear(shape[1], shape[0], hasBias),
                4 => nn.Conv2d(shape[1], shape[0], (shape[2], shape[3]), bias: hasBias),
                _ => null,
            };
            if (layer is null) continue;
            var parts = prefix.Split('.');
            root.Node(parts[..^1]).register_module(parts[^1], layer);
            consumed.Add(name);
            if (hasBias) consumed.Add(prefix + ".bias");
        }
        foreach (var (name, shape, dtype) in tensors)
        {
            if (consumed.Contains(name)) continue;
            var parts = name.Split('.');
            var node = root.Node(parts[..^1]);
            var t = zeros(shape, dtype);
            if (dtype.IsFloatingPoint()) node.register_parameter(parts[^1], new TorchSharp.Modules.Parameter(t, requires_grad: false));
            else node.register_buffer(parts[^1], t);
        }
        return root;
    }

    /// <summary>Places <paramref name="layer"/> at the fully qualified <paramref name="name"/>, creating inner nodes.</summary>
    public void Insert(string name, nn.Module layer)
    {
        var parts = name.Split('.');
        Node(parts[..^1]).register_module(parts[^1], layer);
    }

    /// <summary>Weights-only models cannot run.</summary>
    public override Tensor forward(Tensor input) =>
        throw new CompressException(ErrorKind.InvalidInput, "this model is weights-only (unknown architecture) and cannot run; pass --arch");

    private WeightsOnlyModule Node(string[] path)
    {
        var current = this;
        foreach (var part in path)
        {
            WeightsOnlyModule? next = null;
            foreach (var (n, m) in current.named_children())
                if (n == part)
                {
                    next = m as WeightsOnlyModule
                           ?? throw new CompressException(ErrorKind.InvalidInput, $"tensor names are inconsistent: '{part}' is both a layer and a prefix of other tensors");
                    break;
                }
            if (next is null)
            {
                next = new WeightsOnlyModule();
                current.register_module(part, next);
            }
            current = next;
        }
        return current;
    }
}
