using System.Diagnostics;
using Compressor.Fuzz;
using SharpFuzz;

// Fuzz driver (docs/fuzzing.md):
//   seeds DIR                 write the seed inputs of every target under DIR/TARGET/
//   afl TARGET                persistent AFL++ target (run under afl-fuzz with the SDK instrumented by sharpfuzz)
//   replay TARGET PATH...     run files (or every file of folders) once each; exit 1 on an invariant violation
//   mutate TARGET SECONDS [SEED] [EXECS]  blind seeded mutation loop (no coverage feedback) from the target's seeds,
//                             for SECONDS or until EXECS executions, whichever comes first
if (args.Length < 2) return Usage();
string scratch = Path.Combine(Path.GetTempPath(), $"compress-fuzz-{Environment.ProcessId}");
Directory.CreateDirectory(scratch);
var limit = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("FUZZ_TIME_LIMIT_S") ?? "10", System.Globalization.CultureInfo.InvariantCulture));
try
{
    switch (args[0])
    {
        case "seeds":
            foreach (var (name, dir) in FuzzSeeds.WriteAll(args[1])) Console.WriteLine($"{name}: {Directory.GetFiles(dir).Length} seed(s) in {dir}");
            return 0;
        case "afl":
        {
            var target = FuzzTargets.Get(args[1]);
            string path = Path.Combine(scratch, "input" + target.Extension);
            Fuzzer.Run(stream =>
            {
                using var ms = new MemoryStream();
                stream.CopyTo(ms);
                FuzzHarness.Execute(target, ms.ToArray(), path, limit);
            });
            return 0;
        }
        case "replay":
        {
            var target = FuzzTargets.Get(args[1]);
            string path = Path.Combine(scratch, "input" + target.Extension);
            int failures = 0, count = 0;
            var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]).Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                count++;
                try { Console.WriteLine($"{FuzzHarness.Execute(target, File.ReadAllBytes(file), path, limit),-8} {file}"); }
                catch (FuzzInvariantException e)
                {
                    failures++;
                    Console.WriteLine($"FAIL     {file}: {e.Message}");
                    if (e.InnerException is { } inner) Console.WriteLine(inner.StackTrace);
                }
            }
            Console.WriteLine($"{target.Name}: {count} input(s), {failures} violation(s)");
            return failures == 0 ? 0 : 1;
        }
        case "mutate":
        {
            var target = FuzzTargets.Get(args[1]);
            double seconds = double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
            var rng = new Random(args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 1);
            var seeds = FuzzSeeds.For(target.Name, scratch).ToList();
            string path = Path.Combine(scratch, "input" + target.Extension);
            long maxExecs = args.Length > 4 ? long.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture) : long.MaxValue;
            var clock = Stopwatch.StartNew();
            long execs = 0, refused = 0;
            while (clock.Elapsed.TotalSeconds < seconds && execs < maxExecs)
            {
                var input = FuzzMutator.Mutate(seeds[rng.Next(seeds.Count)], rng);
                try
                {
                    if (FuzzHarness.Execute(target, input, path, limit) == FuzzOutcome.Refused) refused++;
                }
                catch (FuzzInvariantException e)
                {
                    string crash = Path.Combine(Environment.CurrentDirectory, $"crash-{target.Name}-{execs}{target.Extension}");
                    File.WriteAllBytes(crash, input);
                    Console.WriteLine($"{e.Message}\n  input saved as {crash}");
                    return 1;
                }
                execs++;
            }
            Console.WriteLine($"{target.Name}: {execs} executions in {clock.Elapsed.TotalSeconds:F0} s, {refused} refused, 0 violations");
            return 0;
        }
        default:
            return Usage();
    }
}
finally
{
    try { Directory.Delete(scratch, recursive: true); } catch (IOException) { }
}

static int Usage()
{
    Console.Error.WriteLine($"usage: Compressor.Fuzz seeds DIR | afl TARGET | replay TARGET PATH... | mutate TARGET SECONDS [SEED] [EXECS]\ntargets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}
