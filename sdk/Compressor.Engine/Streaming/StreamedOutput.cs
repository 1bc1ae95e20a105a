using Compressor.Engine.Checkpoints;
using Compressor.Engine.Kinds;
using Compressor.Engine.Memory;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using static TorchSharp.torch;

namespace Compressor.Engine.Streaming;

/// <summary>Writes the compressed checkpoint of a streamed run without the model in memory. The safetensors header
/// needs every tensor's type and shape before the first byte of data, and a plugin decides them (kinds, bits, groups)
/// only as it runs; so the file is written once every unit is done: the whole compressed model is declared on the meta
/// device — the architecture with each compressed layer rebuilt from its kind and config, as loading the file will
/// rebuild it — which gives the tensor names in module order, their types and shapes, and the same metadata (spec,
/// manifest) that saving the whole model writes (<see cref="ModelIO.Metadata"/>); then the data is copied tensor by
/// tensor from the units' saved parts. The bytes equal those of <see cref="ModelIO.Save"/> on the same compressed
/// model held whole.</summary>
public static class StreamedOutput
{
    /// <summary>The whole compressed model on the meta device: <paramref name="spec"/> with <paramref name="layers"/> in
    /// place and <paramref name="steps"/> applied. The caller disposes it.</summary>
    /// <exception cref="CompressException">A layer name the architecture lacks, or a kind <paramref name="kinds"/> do not know.</exception>
    public static EngineModel Declare(ArchitectureSpec spec, LayerKindSet kinds, IReadOnlyDictionary<string, CompressedLayerEntry> layers, IEnumerable<AppliedStep> steps)
    {
        using (MetaDevice.Scope())
        {
            var model = ArchitectureRegistry.CreateModel(spec, kinds, steps);
            try
            {
                foreach (var (name, entry) in layers.OrderByDescending(kv => kv.Key.Length).ThenBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    try { model.ReplaceLayer(name, LayerConfigJson.Create(kinds, entry.Kind, entry.ConfigVersion, entry.Config, name)); }
                    catch (KeyNotFoundException) { throw new CompressException(ErrorKind.PluginFailed, $"compressed layer '{name}' does not exist in architecture {spec.Name}"); }
                }
                return model;
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
    }

    /// <summary>The tensors of <paramref name="declared"/> in file order, with types and shapes.</summary>
    public static IReadOnlyList<(string Name, ScalarType Type, long[] Shape)> Layout(EngineModel declared) =>
        declared.NamedTensors().Select(t => (t.Name, t.Tensor.dtype, t.Tensor.shape)).ToList();

    /// <summary>Writes <paramref name="path"/> atomically: the header of <paramref name="declared"/>, then each tensor's
    /// data from <paramref name="read"/> (by name, in file order; disposed once written).</summary>
    public static void Write(string path, EngineModel declared, Func<string, Tensor> read)
    {
        var layout = Layout(declared);
        SafetensorsWriter.Write(path, layout, ModelIO.Metadata(declared), i => read(layout[i].Name));
    }
}
