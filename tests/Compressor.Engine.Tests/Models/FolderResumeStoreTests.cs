using Compressor.Engine.IO;
using Compressor.Engine.Kinds;
using Compressor.Engine.Models;
using Compressor.Engine.Storage;
using Compressor.Engine.Tests.Kinds;
using TorchSharp;
using static TorchSharp.torch;

namespace Compressor.Engine.Tests.Models;

/// <summary>Resumable state in a folder: entries read back whole or not at all, optimizer state and compressed layers
/// restored, sections reset when their fingerprint changes, names checked.</summary>
public sealed class FolderResumeStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FolderResumeStore Store() => new(_dir, TestKinds.All);

    /// <summary>The entry's data files (named per save) and its state file.</summary>
    private string[] FilesOf(string key) => Directory.GetFiles(_dir, key + ".*").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void AnEntryRoundTripsItsStateAndTensors()
    {
        var store = Store();
        using var a = randn(3, 4);
        using var b = tensor(new long[] { 7, 8, 9 });
        store.Save("step-10", """{"step":10}""", [("a", a), ("b", b)]);
        var files = FilesOf("step-10");
        Assert.Equal(2, files.Length);
        Assert.Equal("step-10.json", files[1]);
        Assert.Matches(@"^step-10\.[0-9a-f]{25}\.safetensors$", files[0]);
        using var entry = store.Load("step-10");
        Assert.NotNull(entry);
        Assert.Equal("""{"step":10}""", entry.State);
        Assert.Equal(["a", "b"], entry.Tensors.Keys);
        Tolerances.AssertIdentical(a, entry.Tensors["a"], "a");
        Tolerances.AssertIdentical(b, entry.Tensors["b"], "b");
        Assert.Null(store.Load("step-20"));
        // A second save replaces the entry and leaves only its own data file.
        store.Save("step-10", "again", [("a", b)]);
        Assert.Equal(2, FilesOf("step-10").Length);
        using var again = store.Load("step-10");
        Assert.Equal("again", again!.State);
    }

    [Fact]
    public void AFailedSaveKeepsThePreviousEntryWhole()
    {
        var store = Store();
        using var t = ones(2);
        store.Save("k", "first", [("t", t)]);
        IEnumerable<(string, Tensor)> Failing()
        {
            yield return ("t", t);
            throw new IOException("disk full");
        }
        // A full disk while writing: an output failure, and the previous entry is still there, whole.
        var e = Assert.Throws<CompressException>(() => store.Save("k", "second", Failing()));
        Assert.Equal(ErrorKind.OutputFailed, e.Kind);
        using (var kept = store.Load("k")) Assert.Equal("first", kept!.State);
        Assert.Equal(2, FilesOf("k").Length);
        Assert.DoesNotContain(Directory.GetFiles(_dir), f => Path.GetFileName(f).StartsWith(".k.", StringComparison.Ordinal));

        // A data file removed or changed by hand is reported, not half-read.
        string data = Directory.GetFiles(_dir, "k.*.safetensors").Single();
        File.Delete(data);
        Assert.Contains("is malformed", Assert.Throws<CompressException>(() => store.Load("k")).Message);
        // The state file alone is the entry: without it there is none.
        File.Delete(Path.Combine(_dir, "k.json"));
        Assert.Null(store.Load("k"));
    }

    [Theory]
    [InlineData("resume.after-tensors", "first")]
    [InlineData("resume.after-optimizer", "first")]
    [InlineData("resume.after-commit", "second")]
    public void ACrashAtAnyPointOfASaveLeavesOneWholeEntry(string point, string expected)
    {
        // Issue 22, case 4: killed between the renames, the rerun read epoch-1 state with epoch-2 weights. Here the save
        // stops at each crash point (as kill -9 would, nothing after it runs), and a new store reads the folder.
        using var scope = NewDisposeScope();
        var model = nn.Linear(3, 2);
        var optimizer = optim.Adam(model.parameters(), 0.1);
        using var first = full(2, 3, 1f);
        using var second = full(2, 3, 2f);
        Store().Save("train", "first", [("w", first)], optimizer);
        using (CrashPoints.Arm(p => { if (p == point) throw new SimulatedCrash(p); }))
            Assert.Throws<SimulatedCrash>(() => Store().Save("train", "second", [("w", second)], optimizer));

        var reopened = Store();
        using (var entry = reopened.Load("train", optim.Adam(nn.Linear(3, 2).parameters(), 0.1)))
        {
            Assert.NotNull(entry);
            Assert.Equal(expected, entry.State);
            Tolerances.AssertIdentical(expected == "first" ? first : second, entry.Tensors["w"], "w of the entry's own save");
        }
        // The next save removes whatever the crash left (data files no state file names).
        reopened.Save("train", "third", [("w", first)], optimizer);
        Assert.Equal(3, FilesOf("train").Length);   // KEY.json, KEY.GEN.safetensors, KEY.GEN.optimizer
    }

    [Fact]
    public void TheOptimizerStateResumesTrainingExactly()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(16, 4);
        var y = randn(16, 2);
        void Step(nn.Module<Tensor, Tensor> m, optim.Optimizer o)
        {
            o.zero_grad();
            using var loss = nn.functional.mse_loss(m.forward(x), y);
            loss.backward();
            o.step();
        }
        var straight = nn.Linear(4, 2);
        var interrupted = nn.Linear(4, 2);
        using (no_grad())
            foreach (var (p, q) in straight.parameters().Zip(interrupted.parameters())) q.copy_(p);
        var o1 = optim.Adam(straight.parameters(), 0.1);
        var o2 = optim.Adam(interrupted.parameters(), 0.1);
        for (int i = 0; i < 3; i++) { Step(straight, o1); Step(interrupted, o2); }
        var store = Store();
        store.Save("train", "3 steps", interrupted.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), o2);
        Assert.Single(Directory.GetFiles(_dir, "train.*.optimizer"));

        // A new process: a fresh model and optimizer, restored from the entry.
        var resumed = nn.Linear(4, 2);
        var o3 = optim.Adam(resumed.parameters(), 0.1);
        using (var entry = store.Load("train", o3))
        {
            Assert.NotNull(entry);
            using (no_grad())
                foreach (var (name, p) in resumed.named_parameters()) p.copy_(entry.Tensors[name]);
        }
        // Without the optimizer state the next step differs (Adam's moments start at zero) ...
        var fresh = nn.Linear(4, 2);
        using (no_grad())
            foreach (var (p, q) in resumed.parameters().Zip(fresh.parameters())) q.copy_(p);
        var o4 = optim.Adam(fresh.parameters(), 0.1);
        Step(straight, o1);
        Step(resumed, o3);
        Step(fresh, o4);
        foreach (var ((name, p), (_, q)) in straight.named_parameters().Zip(resumed.named_parameters()))
            Tolerances.AssertIdentical(p, q, name);
        Assert.False(straight.weight!.equal(fresh.weight!).all().item<bool>());

        // An entry saved without an optimizer cannot resume one.
        store.Save("plain", "no optimizer", [("w", straight.weight!)]);
        Assert.Null(store.Load("plain", optim.Adam(fresh.parameters(), 0.1)));
        Assert.NotNull(store.Load("plain"));
    }

    [Fact]
    public void ACompressedLayerIsRebuiltByItsKind()
    {
        using var layer = TestQuantizedLinear.Quantize(randn(6, 10), randn(6), bits: 4, groupSize: 4);
        var store = Store();
        store.SaveLayer("blocks.0.fc1", "sqnr 21.3", layer);
        var loaded = store.LoadLayer("blocks.0.fc1");
        Assert.NotNull(loaded);
        var (module, state) = loaded.Value;
        using var back = Assert.IsType<TestQuantizedLinear>(module);
        Assert.Equal("sqnr 21.3", state);
        Assert.Equal(layer.TypedConfig, back.TypedConfig);
        foreach (var ((name, a), (_, b)) in layer.state_dict().Zip(back.state_dict())) Tolerances.AssertIdentical(a, b, name);
        using var x = randn(3, 10);
        Tolerances.AssertIdentical(layer.forward(x), back.forward(x), "outputs");
        Assert.Null(store.LoadLayer("blocks.0.fc2"));

        // Without its kind, the layer cannot be rebuilt (one line naming the kind).
        var e = Assert.Throws<CompressException>(() => new FolderResumeStore(_dir, LayerKindSet.Empty).LoadLayer("blocks.0.fc1"));
        Assert.Contains($"unknown compressed layer kind '{TestQuantizedLinear.KindId}'", e.Message);
        // Tensors that do not fit the rebuilt layer are refused (strict loading): an entry of the older fixed-name
        // layout (no "files" in its state file) is still read, here with an extra tensor.
        string stateFile = Path.Combine(_dir, "blocks.0.fc1.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(stateFile))!.AsObject();
        json.Remove("files");
        File.WriteAllText(stateFile, json.ToJsonString());
        using (var extra = zeros(1))
            SafetensorsWriter.Write(Path.Combine(_dir, "blocks.0.fc1.safetensors"), layer.state_dict().Select(kv => (kv.Key, kv.Value)).Append(("extra", extra)));
        var strict = Assert.Throws<CompressException>(() => store.LoadLayer("blocks.0.fc1"));
        Assert.Contains("1 tensor(s) the model does not have, e.g. 'extra'", strict.Message);
        // A plain entry is not a layer.
        store.Save("plain", "x", []);
        Assert.Contains("is malformed", Assert.Throws<CompressException>(() => store.LoadLayer("plain")).Message);
    }

    [Fact]
    public void ASectionKeepsItsEntriesOnlyForTheSameFingerprint()
    {
        var store = Store();
        using var t = ones(3);
        var phase = store.Section("phase1", "options-A");
        phase.Save("e", "kept", [("t", t)]);
        Assert.True(File.Exists(Path.Combine(_dir, "phase1", "e.json")));
        using (var again = store.Section("phase1", "options-A").Load("e")) Assert.Equal("kept", again!.State);
        var other = store.Section("phase1", "options-B");
        Assert.Null(other.Load("e"));
        Assert.Equal([".fingerprint"], Directory.GetFiles(Path.Combine(_dir, "phase1")).Select(Path.GetFileName));
        Assert.Null(store.Section("phase1", "options-A").Load("e"));
        // Sections nest, and a section leaves the store's own entries alone.
        store.Save("root", "r", []);
        store.Section("phase2", "f").Section("inner", "g").Save("x", "deep", []);
        Assert.True(File.Exists(Path.Combine(_dir, "phase2", "inner", "x.json")));
        store.Section("phase2", "changed");
        Assert.False(Directory.Exists(Path.Combine(_dir, "phase2", "inner")));
        Assert.NotNull(store.Load("root"));
    }

    [Theory]
    [InlineData("")] [InlineData("../escape")] [InlineData("a/b")] [InlineData(".hidden")] [InlineData("a b")] [InlineData("a\\b")]
    public void KeysAndSectionNamesMustBeFileNameSafe(string name)
    {
        var store = Store();
        Assert.Throws<ArgumentException>(() => store.Save(name, "s", []));
        Assert.Throws<ArgumentException>(() => store.Load(name));
        Assert.Throws<ArgumentException>(() => store.LoadLayer(name));
        Assert.Throws<ArgumentException>(() => store.Section(name, "f"));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void AStoreThatSavesNothingLeavesNothing()
    {
        string dir = Path.Combine(_dir, "never-used");
        var store = new FolderResumeStore(dir, TestKinds.All);
        Assert.Null(store.Load("x"));
        Assert.Null(store.LoadLayer("x"));
        Assert.False(Directory.Exists(dir));
    }
}
