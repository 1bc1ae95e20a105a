using Newtonsoft.Json.Linq;

namespace Compressor.Host.Search;

/// <summary>One way to treat one layer: a plugin step with fixed options (the search adds <c>include</c>), or
/// keeping the layer in float32 (<see cref="Plugin"/> null).</summary>
/// <param name="Id">A short stable name, e.g. <c>rtn-w4-g32</c>, <c>gptq-w3-g128</c>, <c>lowrank-0.5</c>, <c>fp32</c>.</param>
/// <param name="Plugin">The plugin id, or null for float32.</param>
/// <param name="Options">The step's options (camelCase recipe keys), without <c>include</c>.</param>
/// <param name="Order">Where its step goes in a recipe: structural steps first, then the quantizers.</param>
/// <param name="Scope">How a per-layer trial obtains the treated weight (<see cref="TrialScope"/>).</param>
public sealed record Treatment(string Id, string? Plugin, JObject Options, int Order, TrialScope Scope = TrialScope.Model)
{
    /// <summary>Keeping the layer as it is.</summary>
    public static readonly Treatment Fp32 = new("fp32", null, new JObject(), int.MaxValue);

    /// <summary>Whether the treatment quantizes the layer's input too (W8A8): its damage is not that of a weight, so a
    /// trial evaluates the treated model itself rather than the input model with the weight swapped in.</summary>
    public bool QuantizesInputs => Options["activationBits"] is { } a && a.Type == JTokenType.Integer && (int)a > 0;

    /// <summary>Whether this is <see cref="Fp32"/>.</summary>
    public bool IsFp32 => Plugin is null;

    /// <summary>The step's options selecting only <paramref name="layers"/>.</summary>
    public JObject OptionsFor(IEnumerable<string> layers)
    {
        var o = (JObject)Options.DeepClone();
        o["include"] = new JArray(layers.Select(Glob).ToArray<object>());
        return o;
    }

    /// <summary>A name glob that matches exactly <paramref name="layer"/> (glob characters matched by '?').</summary>
    public static string Glob(string layer) => new(layer.Select(c => c is '*' or '?' or ',' ? '?' : c).ToArray());
}
