using Compressor.Fuzz;

namespace Compressor.Host.Tests;

/// <summary>CI's share of the fuzzing (docs/fuzzing.md): every input of the regression corpus (Corpus/TARGET/: the
/// seeds and every input that ever broke an invariant) replays cleanly, and a short seeded mutation run of each
/// target finds no violation. The long coverage-guided campaign runs from bench/Fuzz.</summary>
public sealed class FuzzRegressionTests : IDisposable
{
    /// <summary>Wall time allowed per input; a loaded CI machine is slow, a hang is not (AFL's campaign uses the same).</summary>
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(10);

    /// <summary>Seconds of blind mutation per target in CI.</summary>
    private const double MutationSeconds = 2;

    private readonly string _dir = Directory.CreateTempSubdirectory("fuzz-regression-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void TheRegressionCorpusReplaysCleanly(string name)
    {
        var target = FuzzTargets.Get(name);
        string corpus = Path.Combine(AppContext.BaseDirectory, "Corpus", name);
        var files = Directory.GetFiles(corpus);
        Assert.NotEmpty(files);
        string scratch = Path.Combine(_dir, "input" + target.Extension);
        foreach (var file in files)
        {
            var ex = Record.Exception(() => FuzzHarness.Execute(target, File.ReadAllBytes(file), scratch, TimeLimit));
            Assert.True(ex is null, $"{Path.GetFileName(file)}: {ex?.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void AShortMutationRunFindsNoViolation(string name)
    {
        var target = FuzzTargets.Get(name);
        var seeds = FuzzSeeds.For(name, _dir).ToList();
        string scratch = Path.Combine(_dir, "input" + target.Extension);
        var rng = new Random(name.Length * 7919 + 17);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int executions = 0, refused = 0;
        while (clock.Elapsed.TotalSeconds < MutationSeconds)
        {
            var input = FuzzMutator.Mutate(seeds[rng.Next(seeds.Count)], rng);
            FuzzOutcome outcome;
            try { outcome = FuzzHarness.Execute(target, input, scratch, TimeLimit); }
            catch (FuzzInvariantException e)
            {
                string saved = Path.Combine(Path.GetTempPath(), $"fuzz-crash-{name}-{Guid.NewGuid():N}{target.Extension}");
                File.WriteAllBytes(saved, input);
                throw new Xunit.Sdk.XunitException($"{e.Message} (input saved as {saved}; add it to Corpus/{name}/ once fixed)");
            }
            executions++;
            if (outcome == FuzzOutcome.Refused) refused++;
        }
        Assert.True(executions >= 10, $"only {executions} executions in {MutationSeconds} s");
        Assert.True(refused > 0, "no mutation was refused: the mutator is not reaching the parser's checks");
    }
}
