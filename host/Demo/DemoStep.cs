using Compressor.Host.Pipeline;

namespace Compressor.Host.Demo;

/// <summary>One demo step: a named recipe.</summary>
/// <param name="Name">Its output folder's name.</param>
/// <param name="Title">What the report calls it.</param>
/// <param name="Recipe">The plugin steps, run in order on one model.</param>
public sealed record DemoStep(string Name, string Title, IReadOnlyList<DemoPluginStep> Recipe)
{
    /// <summary>The recipe that <c>compress run</c> takes (<paramref name="quick"/>: with the quick options merged in).</summary>
    public Recipe RecipeFor(int seed, bool quick) => new(seed, [.. Recipe.Select(p => new RecipeStep(p.Plugin, p.OptionsFor(quick)))]);
}
