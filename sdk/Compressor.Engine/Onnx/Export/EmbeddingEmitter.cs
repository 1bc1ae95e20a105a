using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Export;

/// <summary><c>Embedding</c>: Gather of the table rows at the (int64) indices.</summary>
internal sealed class EmbeddingEmitter : IOnnxModuleEmitter
{
    public bool CanEmit(nn.Module module) => module is Embedding;

    public IReadOnlyList<string> Emit(IOnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var embedding = (Embedding)context.Module;
        string table = context.AddTensor("weight", embedding.weight!.detach());
        return [context.AddNode("Gather", [table, inputs[0]], [context.UniqueName("Gather")], new Dictionary<string, object> { ["axis"] = 0L })];
    }
}
