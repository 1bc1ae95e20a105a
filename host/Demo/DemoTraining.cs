namespace Compressor.Host.Demo;

/// <summary>How the demo trains its base model.</summary>
/// <param name="Architecture">A built-in architecture or preset (<c>compress train ARCH</c>).</param>
/// <param name="Epochs">Epochs of a full demo.</param>
/// <param name="QuickEpochs">Epochs under <c>--quick</c>.</param>
public sealed record DemoTraining(string Architecture, int Epochs, int QuickEpochs);
