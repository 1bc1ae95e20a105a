namespace Compressor.Engine.Architectures;

/// <summary>The child names of a transformer block in a given ecosystem, so that its state dicts load unrenamed.</summary>
public sealed record BlockNames(string Norm1, string Attention, string Qkv, string Proj, string Norm2, string Mlp, string Fc1, string Fc2)
{
    /// <summary>timm ViT/DeiT: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2.</summary>
    public static BlockNames Timm { get; } = new("norm1", "attn", "qkv", "proj", "norm2", "mlp", "fc1", "fc2");

    /// <summary>Hugging Face GPT-2: ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj.</summary>
    public static BlockNames Gpt2 { get; } = new("ln_1", "attn", "c_attn", "c_proj", "ln_2", "mlp", "c_fc", "c_proj");
}
