using Newtonsoft.Json.Linq;

namespace Compressor.Host.Demo;

/// <summary>One plugin of a demo step's recipe.</summary>
/// <param name="Plugin">The plugin id.</param>
/// <param name="Options">Its options (camelCase names).</param>
/// <param name="QuickOptions">Options that replace <paramref name="Options"/>' values under <c>--quick</c>, or null.</param>
public sealed record DemoPluginStep(string Plugin, JObject Options, JObject? QuickOptions)
{
    /// <summary>The options to run with.</summary>
    public JObject OptionsFor(bool quick)
    {
        var o = (JObject)Options.DeepClone();
        if (quick && QuickOptions is not null)
            foreach (var p in QuickOptions.Properties()) o[p.Name] = p.Value.DeepClone();
        return o;
    }
}
