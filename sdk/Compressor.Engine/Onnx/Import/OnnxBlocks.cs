using static TorchSharp.torch;

namespace Compressor.Engine.Onnx.Import;

/// <summary>Cuts an imported graph into blocks for block-wise reconstruction (BRECQ-style post-training methods).
/// <para>An <em>activation</em> is a floating-point value that depends on some layer's output (so an attention mask
/// computed from a graph input, or an integer shape, is not). A value is a <em>cut</em> when, right after the node that
/// produces it, it is the only activation still to be read: a residual block's output after its Add (and ReLU), a
/// transformer sub-block's output after its LayerNorm; never a value inside a residual branch, since the skip path is
/// live beside it. The asked-for layers are taken in execution order and a new block starts whenever a cut lies
/// between two of them; each block runs from the last cut before its first layer to the last cut before the next
/// block's first layer (so the normalisation and activation after a layer belong to its block), and the last block
/// to the graph outputs.</para></summary>
public static class OnnxBlocks
{
    /// <summary>The blocks holding <paramref name="layers"/> (dotted layer names of <paramref name="module"/>), found by
    /// one run on <paramref name="example"/> (the graph inputs; one small batch suffices: only value types are read).</summary>
    /// <exception cref="CompressException">A layer is not called by the graph.</exception>
    public static IReadOnlyList<OnnxBlock> Find(OnnxModule module, IReadOnlyCollection<string> layers, IReadOnlyDictionary<string, Tensor> example)
    {
        var plan = module.Plan;
        var floating = new HashSet<string>(StringComparer.Ordinal);
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        {
            foreach (var (name, t) in example)
                if (t.is_floating_point()) floating.Add(name);
            module.RunValues(example, module.OutputNames, (name, t) => { if (t.is_floating_point()) floating.Add(name); });
        }

        // Which plan step calls which layer.
        var layerOfOutput = module.LayerUses.GroupBy(u => u.Output).ToDictionary(g => g.Key, g => g.First().Path, StringComparer.Ordinal);
        var layerAt = new Dictionary<int, string>();
        for (int p = 0; p < plan.Count; p++)
            if (plan[p].Outputs.Count > 0 && layerOfOutput.TryGetValue(plan[p].Outputs[0], out var path)) layerAt[p] = path;

        // Producers, last readers, and which values are activations.
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in module.InputNames) producer[name] = -1;
        var lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        var activation = new HashSet<string>(StringComparer.Ordinal);
        for (int p = 0; p < plan.Count; p++)
        {
            var node = plan[p];
            bool dependsOnLayer = layerAt.ContainsKey(p) || node.Inputs.Any(activation.Contains);
            foreach (var i in node.Inputs)
                if (i.Length > 0) lastUse[i] = p;
            foreach (var o in node.Outputs)
            {
                if (o.Length == 0) continue;
                producer[o] = p;
                if (dependsOnLayer && floating.Contains(o)) activation.Add(o);
            }
        }
        foreach (var o in module.OutputNames) lastUse[o] = int.MaxValue;

        // Cuts: after step p, the only activation still to be read is one that step p produced.
        var cuts = new SortedDictionary<int, string>();
        var live = new HashSet<string>(StringComparer.Ordinal);
        for (int p = 0; p < plan.Count; p++)
        {
            foreach (var i in plan[p].Inputs)
                if (i.Length > 0 && lastUse.TryGetValue(i, out int last) && last == p) live.Remove(i);
            foreach (var o in plan[p].Outputs)
                if (o.Length > 0 && activation.Contains(o) && lastUse.TryGetValue(o, out int last) && last > p) live.Add(o);
            if (live.Count == 1 && producer[live.First()] == p) cuts[p] = live.First();
        }

        // The asked-for layers in execution order, split at cuts.
        var wanted = new HashSet<string>(layers, StringComparer.Ordinal);
        var ordered = layerAt.Where(kv => wanted.Contains(kv.Value)).GroupBy(kv => kv.Value)
            .Select(g => (Path: g.Key, Position: g.Min(kv => kv.Key))).OrderBy(x => x.Position).ToList();
        var missing = wanted.Except(ordered.Select(x => x.Path)).FirstOrDefault();
        if (missing is not null) throw new CompressException(ErrorKind.InvalidInput, $"layer '{missing}' is not called by the ONNX graph");
        var groups = new List<List<(string Path, int Position)>>();
        foreach (var layer in ordered)
        {
            if (groups.Count == 0 || cuts.Keys.Any(c => c >= groups[^1][^1].Position && c < layer.Position)) groups.Add([]);
            groups[^1].Add(layer);
        }

        int InputCut(List<(string Path, int Position)> g) => cuts.Keys.Where(c => c < g[0].Position).DefaultIfEmpty(-1).Max();
        var blocks = new List<OnnxBlock>();
        for (int b = 0; b < groups.Count; b++)
        {
            int start = InputCut(groups[b]);
            IReadOnlyList<string> outputs = b + 1 < groups.Count ? [cuts[InputCut(groups[b + 1])]]
                : module.OutputNames.Where(activation.Contains).DefaultIfEmpty(module.OutputNames[0]).ToList();
            // The values read from before the block: walk back from the outputs to values produced at or before the start.
            var inputs = new List<string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var stack = new Stack<string>(outputs);
            while (stack.Count > 0)
            {
                var v = stack.Pop();
                if (!seen.Add(v) || module.IsStored(v)) continue;
                int p = producer.TryGetValue(v, out int q) ? q : -1;
                if (p <= start)
                {
                    inputs.Add(v);
                    continue;
                }
                foreach (var i in plan[p].Inputs)
                    if (i.Length > 0) stack.Push(i);
            }
            inputs.Sort((x, y) => producer.GetValueOrDefault(x, -1).CompareTo(producer.GetValueOrDefault(y, -1)));
            blocks.Add(new OnnxBlock(groups[b].Select(x => x.Path).ToList(), inputs, outputs));
        }
        return blocks;
    }
}
