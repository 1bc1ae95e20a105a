using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Compressor.Host.Search;

/// <summary>The recipe of an allocation: one step per treatment used (its options with <c>include</c> naming its
/// layers in model order), structural steps first, then the quantizers (<see cref="Treatment.Order"/>, then id);
/// float32 layers get no step. The text is deterministic: the same allocation gives the same bytes (and hash).</summary>
public static class RecipeText
{
    /// <summary>The recipe JSON for <paramref name="allocation"/> (layer → treatment, in model order).</summary>
    public static string Of(IReadOnlyList<(string Layer, Treatment Treatment)> allocation, int seed, string target)
    {
        var steps = new JArray();
        foreach (var group in Steps(allocation))
            steps.Add(new JObject { ["plugin"] = group.Treatment.Plugin, ["options"] = group.Treatment.OptionsFor(group.Layers) });
        var recipe = new JObject { ["seed"] = seed, ["target"] = target, ["steps"] = steps };
        return recipe.ToString(Formatting.Indented) + "\n";
    }

    /// <summary>The steps of <paramref name="allocation"/> in recipe order, each with its layers in model order.</summary>
    public static IReadOnlyList<(Treatment Treatment, IReadOnlyList<string> Layers)> Steps(IReadOnlyList<(string Layer, Treatment Treatment)> allocation) =>
        allocation.Where(a => !a.Treatment.IsFp32)
            .GroupBy(a => a.Treatment.Id)
            .Select(g => (g.First().Treatment, (IReadOnlyList<string>)g.Select(a => a.Layer).ToList()))
            .OrderBy(s => s.Item1.Order).ThenBy(s => s.Item1.Id, StringComparer.Ordinal)
            .ToList();
}
