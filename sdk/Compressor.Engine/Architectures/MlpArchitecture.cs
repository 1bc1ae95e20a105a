using Compressor.Sdk.Models;
using Compressor.Sdk.Layers;
using Compressor.Engine.Onnx.Export;
using Newtonsoft.Json.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Architectures;

/// <summary>A multi-layer perceptron with PyTorch <c>nn.Sequential</c> names (<c>layers.0</c>, <c>layers.2</c>, …,
/// activations at the odd indices). Inputs of any shape are flattened after the batch dimension.</summary>
public sealed class MlpArchitecture : IArchitecture
{
    /// <inheritdoc/>
    public string Name => "mlp";

    /// <inheritdoc/>
    public string Description => "multi-layer perceptron (nn.Sequential names layers.N); config inputs, hidden[], outputs, activation";

    /// <inheritdoc/>
    public JObject Complete(JObject? config)
    {
        var c = ConfigReader.Merge(new JObject { ["inputs"] = 64, ["hidden"] = new JArray(64), ["outputs"] = 10, ["activation"] = "relu" }, config, Name);
        ConfigReader.Int(c, "inputs", 1, 1 << 24);
        ConfigReader.Ints(c, "hidden", 1, 1 << 20);
        ConfigReader.Int(c, "outputs", 1, 1 << 24);
        ConfigReader.Choice(c, "activation", "relu", "gelu", "tanh");
        return c;
    }

    /// <inheritdoc/>
    public nn.Module Create(JObject config)
    {
        int inputs = ConfigReader.Int(config, "inputs", 1, 1 << 24);
        int[] hidden = ConfigReader.Ints(config, "hidden", 1, 1 << 20);
        int outputs = ConfigReader.Int(config, "outputs", 1, 1 << 24);
        string act = ConfigReader.Choice(config, "activation", "relu", "gelu", "tanh");
        var modules = new List<nn.Module>();
        int width = inputs;
        foreach (int h in hidden)
        {
            modules.Add(nn.Linear(width, h));
            modules.Add(act switch { "gelu" => nn.GELU(), "tanh" => nn.Tanh(), _ => nn.ReLU() });
            width = h;
        }
        modules.Add(nn.Linear(width, outputs));
        return new Mlp(modules, inputs, outputs);
    }

    /// <summary>ONNX: graph input <c>input</c> [batch, inputs] (float), Flatten(axis 1), the layers, output <c>logits</c>.</summary>
    private sealed class Mlp : LayerContainer, IOnnxExportableModel
    {
        public Mlp(IEnumerable<nn.Module> layers, int inputs, int outputs) : base("mlp")
        {
            register_module("layers", new LayerList(layers));
            OnnxInputs = [new OnnxValueSpec("input", OnnxDataType.Float, [OnnxDim.Named("batch", 4), OnnxDim.Fixed(inputs)])];
            OnnxOutputs = [new OnnxValueSpec("logits", OnnxDataType.Float, [OnnxDim.Named("batch", 4), OnnxDim.Fixed(outputs)])];
        }

        public IReadOnlyList<OnnxValueSpec> OnnxInputs { get; }

        public IReadOnlyList<OnnxValueSpec> OnnxOutputs { get; }

        public IReadOnlyList<string> ExportOnnx(IOnnxExportContext context, IReadOnlyList<string> inputs)
        {
            string flat = context.AddNode("Flatten", [inputs[0]], [context.UniqueName("flatten")], new Dictionary<string, object> { ["axis"] = 1L });
            return context.EmitChild("layers", [flat]);
        }

        public override Tensor forward(Tensor input)
        {
            using var flat = input.flatten(1);
            return Child("layers").forward(flat);
        }
    }
}
