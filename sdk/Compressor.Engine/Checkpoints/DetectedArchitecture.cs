namespace Compressor.Engine.Checkpoints;

/// <summary>What <see cref="ArchitectureDetector"/> recognised in a checkpoint.</summary>
/// <param name="Name">A short id: <c>vit</c>, <c>gpt2</c>, <c>bert</c>, <c>resnet</c>, or a built-in name (<c>mlp</c>, <c>cnn</c>).</param>
/// <param name="Family">For people: e.g. <c>timm ViT/DeiT</c>, <c>Hugging Face GPT-2</c>.</param>
/// <param name="Evidence">Where it came from: the metadata key, or a tensor name that matched.</param>
/// <param name="Depth">Number of repeated blocks/layers found in the names (null when not applicable).</param>
public sealed record DetectedArchitecture(string Name, string Family, string Evidence, int? Depth);
