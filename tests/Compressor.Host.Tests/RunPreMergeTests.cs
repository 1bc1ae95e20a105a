using System.Security.Cryptography;
using Compressor.Host.Pipeline;
using Newtonsoft.Json.Linq;
using Onnx;

namespace Compressor.Host.Tests;

/// <summary>Pre-merge on <c>compress run --deploy-tokens N</c> and in its recipe: on a tiny Llama whose FFN linears
/// become low-rank at 50 %, the run's model.onnx holds one MatMul for each layer recipe.json's <c>preMerge</c> calls
/// merged and two for each factored one; the checkpoint keeps its form (the bytes of a run without the option); the
/// recipe run again writes the same model.onnx byte for byte; and a recipe's recorded decisions are followed as
/// recorded, not measured again (flipped in the file, the graph flips).</summary>
public sealed class RunPreMergeTests(HostFixture fx) : IClassFixture<HostFixture>
{
    private (string Model, string Data) Inputs()
    {
        var (dense, _, data) = TinyLlamaInputs.Write(fx.NewDir("run-premerge"));
        return (dense, data);
    }

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static (int Code, string Err) Run(string target, string model, string data, string outDir, params string[] more)
    {
        string[] plugin = target.EndsWith(".json", StringComparison.Ordinal) ? [] : ["--structure", "lowrank", "--fraction", "0.5", "--first-layer-dense", "false"];
        var (code, _, err) = HostFixture.Cli(["run", target, "--model", model, "--out", outDir, "--data", data, "-v", "q", .. plugin, .. more]);
        return (code, err);
    }

    private static int MatMuls(ModelProto model, string layer) =>
        model.Graph.Node.Count(n => n.OpType == "MatMul" && n.Output.Any(o => o.StartsWith(layer + ".", StringComparison.Ordinal)));

    /// <summary>Every recorded decision is what the ONNX model holds: one MatMul merged, two factored.</summary>
    private static void AssertGraphFollows(string outDir, JObject preMerge)
    {
        var onnx = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(outDir, OnnxStage.FileName)));
        foreach (var layer in (JArray)preMerge["layers"]!)
            Assert.Equal((bool)layer["merged"]! ? 1 : 2, MatMuls(onnx, (string)layer["name"]!));
    }

    private static JObject Recipe(string outDir) => JObject.Parse(File.ReadAllText(Path.Combine(outDir, RunPipeline.RecipeFile)));

    [Fact]
    public void TheRecipeRecordsTheDecisionsAndReproducesTheExportByteForByte()
    {
        var (model, data) = Inputs();
        string plain = fx.NewDir("premerge-plain"), first = fx.NewDir("premerge-first"), again = fx.NewDir("premerge-again"), forged = fx.NewDir("premerge-forged");
        Assert.Equal(0, Run("sparsity", model, data, plain).Code);
        var (code, err) = Run("sparsity", model, data, first, "--deploy-tokens", "1");
        Assert.True(code == 0, err);

        var recipe = Recipe(first);
        var preMerge = (JObject)recipe["preMerge"]!;
        Assert.Equal(1, (int)preMerge["deployTokens"]!);
        var layers = (JArray)preMerge["layers"]!;
        Assert.Equal(6, layers.Count);   // gate/up/down of 2 blocks
        Assert.Equal(layers.Count(l => (bool)l["merged"]!), (int)preMerge["merged"]!);
        AssertGraphFollows(first, preMerge);
        Assert.Equal(JTokenType.Null, Recipe(plain)["preMerge"]!.Type);
        // The checkpoint keeps its form: the decision is the export's.
        Assert.Equal(Sha(Path.Combine(plain, RunPipeline.CheckpointFile)), Sha(Path.Combine(first, RunPipeline.CheckpointFile)));

        // The recipe run again: the same decisions, the same bytes.
        string recipeFile = Path.Combine(fx.NewDir("premerge-recipe"), "recipe.json");
        File.Copy(Path.Combine(first, RunPipeline.RecipeFile), recipeFile);
        (code, err) = Run(recipeFile, model, data, again);
        Assert.True(code == 0, err);
        Assert.Equal(Sha(Path.Combine(first, OnnxStage.FileName)), Sha(Path.Combine(again, OnnxStage.FileName)));
        Assert.True(JToken.DeepEquals(preMerge, Recipe(again)["preMerge"]), "the rerun's recipe records the same decisions");

        // Recorded decisions are followed, not measured again: flip each one in the file and the graph flips.
        foreach (var layer in layers) layer["merged"] = !(bool)layer["merged"]!;
        preMerge["merged"] = layers.Count(l => (bool)l["merged"]!);
        File.WriteAllText(recipeFile, recipe.ToString());
        (code, err) = Run(recipeFile, model, data, forged);
        Assert.True(code == 0, err);
        AssertGraphFollows(forged, preMerge);
        Assert.True(JToken.DeepEquals(preMerge, Recipe(forged)["preMerge"]));
    }

    [Fact]
    public void ANewTokenCountOnTheCommandLineDecidesAnew()
    {
        var (model, data) = Inputs();
        string first = fx.NewDir("premerge-n1"), wide = fx.NewDir("premerge-n4097"), off = fx.NewDir("premerge-off");
        Assert.Equal(0, Run("sparsity", model, data, first, "--deploy-tokens", "1").Code);
        string recipeFile = Path.Combine(first, RunPipeline.RecipeFile);
        // Above every break-even (4097: never faster structured) nothing merges, whatever the recipe recorded at 1.
        var (code, err) = Run(recipeFile, model, data, wide, "--deploy-tokens", "5000");
        Assert.True(code == 0, err);
        var preMerge = (JObject)Recipe(wide)["preMerge"]!;
        Assert.Equal(5000, (int)preMerge["deployTokens"]!);
        Assert.Equal(0, (int)preMerge["merged"]!);
        AssertGraphFollows(wide, preMerge);
        // 0: as the checkpoint records (factored), and no decision in the recipe.
        (code, err) = Run(recipeFile, model, data, off, "--deploy-tokens", "0");
        Assert.True(code == 0, err);
        Assert.Equal(JTokenType.Null, Recipe(off)["preMerge"]!.Type);
    }

    [Theory]
    [InlineData("""{"deployTokens": 0, "layers": []}""", "preMerge.deployTokens")]
    [InlineData("""{"deployTokens": 1, "layers": [{"name": "x"}]}""", "boolean \"merged\"")]
    [InlineData("""[1]""", "\"preMerge\" must be an object")]
    public void AMalformedRecordedDecisionIsRefusedInOneLine(string preMerge, string message)
    {
        var (model, data) = Inputs();
        string recipe = Path.Combine(fx.NewDir("premerge-bad"), "recipe.json");
        File.WriteAllText(recipe, """{"seed": 0, "steps": [{"plugin": "sparsity", "options": {"structure": "lowrank"}}], "preMerge": """ + preMerge + "}");
        string outDir = fx.NewDir("premerge-bad-out");
        var (code, err) = Run(recipe, model, data, outDir);
        Assert.Equal((int)ExitCode.InvalidInput, code);
        var lines = err.Trim().Split('\n');
        Assert.Single(lines);
        Assert.Contains(message, lines[0]);
        Assert.Empty(Directory.GetFileSystemEntries(outDir));
    }

    [Fact]
    public void ANegativeTokenCountIsRefused()
    {
        var (model, data) = Inputs();
        var (code, err) = Run("sparsity", model, data, fx.NewDir("premerge-neg"), "--deploy-tokens", "-1");
        Assert.Equal((int)ExitCode.InvalidArguments, code);
        Assert.StartsWith("error: --deploy-tokens -1", err.Trim());
    }
}
