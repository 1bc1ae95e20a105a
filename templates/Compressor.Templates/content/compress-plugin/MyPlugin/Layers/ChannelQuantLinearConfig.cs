namespace MyPlugin.Layers;

/// <summary>What the checkpoint's manifest stores for a <see cref="ChannelQuantLinear"/> besides its tensors: enough to
/// rebuild an empty layer of the right shapes. Written as camelCase JSON (<c>{"out": 10, "in": 64, "bits": 8,
/// "bias": true}</c>); bump <see cref="ChannelQuantLinearKind.ConfigVersion"/> when a field changes.</summary>
/// <param name="Out">Output features.</param>
/// <param name="In">Input features.</param>
/// <param name="Bits">Bits per code, 2..8.</param>
/// <param name="Bias">Whether the layer has a bias.</param>
public sealed record ChannelQuantLinearConfig(long Out, long In, int Bits, bool Bias);
