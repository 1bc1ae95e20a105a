namespace Compressor.Engine.Plugins;

/// <summary>Which weights a plugin may change, declared as <c>"updates"</c> in <c>plugin.json</c>. The host holds the
/// plugin to it: after the step, the layers outside the plugin's include/exclude selection are compared with what they
/// were before.</summary>
public enum WeightUpdateScope
{
    /// <summary>Only the selected layers (the default): an unselected layer that is removed, replaced or whose weights
    /// changed stops the run.</summary>
    Selection,

    /// <summary>The plugin trains the whole model (quantization-aware training, recovery by distillation, permutations
    /// folded into neighbouring layers) and may change any weight; it may still only replace selected layers, so an
    /// unselected layer that is removed or replaced stops the run.</summary>
    Model,
}
