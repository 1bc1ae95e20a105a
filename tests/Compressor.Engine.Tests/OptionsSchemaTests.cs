using Compressor.Sdk.Options;
using Compressor.Engine.Options;
using Newtonsoft.Json.Linq;

namespace Compressor.Engine.Tests;

public sealed class OptionsSchemaTests
{
    public enum Mode { Fast, VerySlow }

    public sealed record SampleOptions : PluginOptions
    {
        [Option("Bits per weight.", Choices = ["2", "4", "8"])] public int WeightBits { get; init; } = 4;
        [Option("A learning rate.", Min = 0, Max = 1)] public double LearningRate { get; init; } = 0.01;
        [Option("A switch.")] public bool UseThing { get; init; }
        [Option("A mode.")] public Mode Mode { get; init; } = Mode.Fast;
        [Option("A name.")] public string Label { get; init; } = "x";
        public override IEnumerable<string> Validate()
        {
            if (UseThing && WeightBits == 2) yield return "--use-thing cannot be combined with --weight-bits 2";
        }
    }

    private static readonly OptionsSchema Schema = OptionsSchema.For(typeof(SampleOptions));

    [Fact]
    public void FlagsAreKebabCaseAndOwnOptionsComeFirst()
    {
        Assert.Equal(["--weight-bits", "--learning-rate", "--use-thing", "--mode", "--label", "--include", "--exclude"], Schema.Options.Select(o => o.Flag));
        Assert.Equal("weightBits", Schema.Options[0].JsonName);
        Assert.Equal(["fast", "very-slow"], Schema.Find("--mode")!.Choices);
    }

    [Fact]
    public void ParsesAllValueForms()
    {
        var o = (SampleOptions)Schema.ParseCli(["--weight-bits", "2", "--learning-rate=0.5", "--mode", "very-slow", "--include", "a.*,b", "--include", "c", "--label", "hi"], "t");
        Assert.Equal(2, o.WeightBits);
        Assert.Equal(0.5, o.LearningRate);
        Assert.Equal(Mode.VerySlow, o.Mode);
        Assert.Equal(["a.*", "b", "c"], o.Include);
        Assert.Equal("hi", o.Label);
        Assert.False(o.UseThing);
        Assert.True(((SampleOptions)Schema.ParseCli(["--use-thing"], "t")).UseThing);
        Assert.False(((SampleOptions)Schema.ParseCli(["--use-thing", "false"], "t")).UseThing);
    }

    [Theory]
    [InlineData(new[] { "--weight-bits", "3" }, "--weight-bits", "one of 2, 4, 8")]
    [InlineData(new[] { "--learning-rate", "2" }, "--learning-rate", "0..1")]
    [InlineData(new[] { "--learning-rate", "abc" }, "--learning-rate", "not a valid number")]
    [InlineData(new[] { "--weight-bits", "4.5" }, "--weight-bits", "not a valid int")]
    [InlineData(new[] { "--mode", "medium" }, "--mode", "fast, very-slow")]
    [InlineData(new[] { "--colour", "red" }, "--colour", "unknown option")]
    [InlineData(new[] { "--label" }, "--label", "needs a value")]
    [InlineData(new[] { "stray" }, "stray", "unexpected argument")]
    [InlineData(new[] { "--use-thing", "--weight-bits", "2" }, "--use-thing", "cannot be combined")]
    [InlineData(new[] { "--use-thing", "maybe" }, "--use-thing", "not a valid bool")]
    public void RejectsBadInputWithOneLineNamingTheOption(string[] args, string flag, string fragment)
    {
        var e = Assert.Throws<OptionsException>(() => Schema.ParseCli(args, "plugin 't'"));
        Assert.Contains(flag, e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(ErrorKind.InvalidOptions, e.Kind);
    }

    [Fact]
    public void JsonRoundTripsAndAcceptsBothKeyStyles()
    {
        var o = (SampleOptions)Schema.FromJson(JObject.Parse("""{"weightBits": 8, "learning-rate": 0.25, "mode": "very-slow", "include": ["x"]}"""), "t");
        Assert.Equal(8, o.WeightBits);
        Assert.Equal(0.25, o.LearningRate);
        var json = Schema.ToJson(o);
        Assert.Equal("very-slow", (string?)json["mode"]);
        var back = (SampleOptions)Schema.FromJson(json, "t");
        Assert.True(JToken.DeepEquals(json, Schema.ToJson(back)));
    }

    [Theory]
    [InlineData("""{"weightBits": "four"}""", "weightBits")]
    [InlineData("""{"weightBits": 4.5}""", "weightBits")]
    [InlineData("""{"weightBits": 99999999999999}""", "weightBits")]
    [InlineData("""{"nope": 1}""", "--nope")]
    [InlineData("""{"include": [1]}""", "include")]
    public void JsonRejectsBadValues(string json, string name)
    {
        var e = Assert.Throws<OptionsException>(() => Schema.FromJson(JObject.Parse(json), "t"));
        string flag = "--" + Naming.ToKebab(name.TrimStart('-'));
        Assert.True(e.Message.Contains(name) || e.Message.Contains(flag), e.Message);
    }

    [Fact]
    public void JsonSchemaDescribesEveryOption()
    {
        var s = Schema.JsonSchema();
        var props = (JObject)s["properties"]!;
        Assert.Equal(Schema.Options.Count, props.Count);
        Assert.Equal("integer", (string?)props["weightBits"]!["type"]);
        Assert.Equal(new JArray(2, 4, 8), props["weightBits"]!["enum"]);
        Assert.Equal(1.0, (double)props["learningRate"]!["maximum"]!);
        Assert.Equal(4, (int)props["weightBits"]!["default"]!);
        Assert.False((bool)s["additionalProperties"]!);
    }
}

/// <summary>Renamed options (<see cref="OptionAttribute.Aliases"/>): the former flag and recipe key still work, with a
/// notice naming the current one; they are hidden from the option list and the schema; an option given under both
/// names in a recipe is refused; a mistyped flag gets the nearest known one.</summary>
public sealed class OptionAliasTests
{
    public sealed record RenamedOptions : PluginOptions
    {
        [Option("Learning rate.", Min = 0, Max = 1, Aliases = ["Lr"])] public double LearningRate { get; init; } = 0.01;
        [Option("Bits.", Min = 1, Max = 8, Aliases = ["--bits"])] public int WeightBits { get; init; } = 4;
        [Option("Tables too.", Enables = Compressor.Sdk.Models.LayerType.Embedding)] public bool Embeddings { get; init; }
    }

    private static readonly OptionsSchema Schema = OptionsSchema.For(typeof(RenamedOptions));

    [Fact]
    public void FormerFlagsParseWithANoticeAndStayOutOfTheList()
    {
        var notices = new List<string>();
        var o = (RenamedOptions)Schema.ParseCli(["--lr", "0.5", "--bits=3"], "plugin 'p'", notices);
        Assert.Equal(0.5, o.LearningRate);
        Assert.Equal(3, o.WeightBits);
        Assert.Equal(["plugin 'p': option --lr is now --learning-rate (the old name is accepted until the next minor version)",
            "plugin 'p': option --bits is now --weight-bits (the old name is accepted until the next minor version)"], notices);
        Assert.DoesNotContain(Schema.Options, d => d.Flag is "--lr" or "--bits");
        Assert.Equal(["--lr"], Schema.Find("learningRate")!.Aliases);
        Assert.Null(Schema.JsonSchema()["properties"]!["lr"]);
        var plain = new List<string>();
        Schema.ParseCli(["--learning-rate", "0.5"], "plugin 'p'", plain);
        Assert.Empty(plain);
    }

    [Fact]
    public void FormerRecipeKeysParseWithANoticeButNotTogetherWithTheNewOne()
    {
        var notices = new List<string>();
        var o = (RenamedOptions)Schema.FromJson(JObject.Parse("""{"lr": 0.2, "bits": 2}"""), "recipe step 1 ('p')", notices);
        Assert.Equal(0.2, o.LearningRate);
        Assert.Equal(2, o.WeightBits);
        Assert.Contains("recipe step 1 ('p'): option \"lr\" is now \"learningRate\" (the old name is accepted until the next minor version)", notices);
        Assert.Equal(0.2, (double)Schema.ToJson(o)["learningRate"]!);
        Assert.Null(Schema.ToJson(o)["lr"]);
        var e = Assert.Throws<OptionsException>(() => Schema.FromJson(JObject.Parse("""{"lr": 0.2, "learningRate": 0.3}"""), "recipe step 1 ('p')"));
        Assert.Contains("given twice", e.Message);
    }

    [Fact]
    public void AMistypedFlagIsAnsweredWithTheNearestOne()
    {
        var e = Assert.Throws<OptionsException>(() => Schema.ParseCli(["--learning-rat", "0.1"], "plugin 'p'"));
        Assert.StartsWith("unknown option --learning-rat for plugin 'p': did you mean --learning-rate?", e.Message);
        var far = Assert.Throws<OptionsException>(() => Schema.ParseCli(["--colour", "red"], "plugin 'p'"));
        Assert.StartsWith("unknown option --colour for plugin 'p' (known: --learning-rate, --weight-bits", far.Message);
        Assert.Equal(Compressor.Sdk.Models.LayerType.Embedding, Schema.Find("--embeddings")!.Enables);
    }

    [Theory]
    [InlineData("plugn", new[] { "plugin", "run", "train" }, "plugin")]
    [InlineData("rnu", new[] { "plugin", "run", "train" }, "run")]
    [InlineData("--wieght-bits", new[] { "--weight-bits", "--group-size" }, "--weight-bits")]
    public void SuggestionsFindTheNearestName(string typed, string[] known, string expected) =>
        Assert.Equal(expected, Suggestions.For(typed, known)[0]);

    [Fact]
    public void NothingIsSuggestedForAFarName() => Assert.Empty(Suggestions.For("frobnicate", ["plugin", "run", "train"]));
}
