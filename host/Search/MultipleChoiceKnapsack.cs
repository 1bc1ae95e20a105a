namespace Compressor.Host.Search;

/// <summary>The allocation problem of a search: pick exactly one option per layer (a treatment, with an integer cost
/// and a damage) so that the total cost stays within a capacity and the total damage is smallest — a multiple-choice
/// knapsack. Solved exactly by dynamic programming over the integer costs: <c>best[l][b]</c> = the least damage of
/// layers 0…l−1 with total cost ≤ b, <c>best[l+1][b] = min_j best[l][b − c_lj] + d_lj</c>, in O(layers × capacity ×
/// options) time. One table gives the optimum for every capacity up to the largest, hence the whole cost–damage
/// frontier at once (<see cref="Frontier"/>). Callers with real-valued costs discretise them by rounding up to a unit
/// (<see cref="Discretise"/>): every solution then fits the real capacity, and is at least as good as the exact optimum
/// for the capacity less one unit per layer (the stated gap).</summary>
public sealed class MultipleChoiceKnapsack
{
    private readonly IReadOnlyList<IReadOnlyList<(long Cost, double Damage)>> _options;
    private readonly double[] _best;           // best over all layers, per capacity
    private readonly short[][] _choice;        // choice[l][b]: the option of layer l in the optimum for capacity b of layers 0..l
    private readonly long _capacity;

    /// <summary>Solves for every capacity 0…<paramref name="capacity"/>.</summary>
    /// <param name="options">Per layer, its options: non-negative integer cost and damage (each layer needs at least one).</param>
    /// <param name="capacity">The largest total cost considered.</param>
    public MultipleChoiceKnapsack(IReadOnlyList<IReadOnlyList<(long Cost, double Damage)>> options, long capacity)
    {
        if (capacity < 0 || capacity > 50_000_000) throw new ArgumentOutOfRangeException(nameof(capacity), "capacity must be in 0..5e7 units (discretise the costs)");
        foreach (var o in options)
        {
            if (o.Count == 0 || o.Count > short.MaxValue) throw new ArgumentException("every layer needs 1..32767 options", nameof(options));
            if (o.Any(x => x.Cost < 0 || double.IsNaN(x.Damage))) throw new ArgumentException("costs must be non-negative and damages numbers", nameof(options));
        }
        _options = options;
        _capacity = capacity;
        int width = (int)capacity + 1;
        var previous = new double[width];          // no layers: damage 0 at every capacity
        var current = new double[width];
        _choice = new short[options.Count][];
        for (int l = 0; l < options.Count; l++)
        {
            var choice = _choice[l] = new short[width];
            var layer = options[l];
            for (int b = 0; b < width; b++)
            {
                double best = double.PositiveInfinity;
                short arg = -1;
                for (short j = 0; j < layer.Count; j++)
                {
                    long c = layer[j].Cost;
                    if (c > b) continue;
                    double v = previous[b - c] + layer[j].Damage;
                    // Ties go to the cheaper option, then the earlier one: the same input gives the same answer.
                    if (v < best || (v == best && arg >= 0 && c < layer[arg].Cost)) { best = v; arg = j; }
                }
                current[b] = best;
                choice[b] = arg;
            }
            (previous, current) = (current, previous);
        }
        _best = previous;
    }

    /// <summary>The least total damage within <paramref name="capacity"/> (infinity when nothing fits).</summary>
    public double BestDamage(long capacity) => _best[(int)Math.Min(capacity, _capacity)];

    /// <summary>The chosen option per layer of the optimum within <paramref name="capacity"/>, or null when nothing fits.</summary>
    public int[]? Solution(long capacity)
    {
        long b = Math.Min(capacity, _capacity);
        if (double.IsPositiveInfinity(_best[b])) return null;
        var result = new int[_options.Count];
        for (int l = _options.Count - 1; l >= 0; l--)
        {
            int j = _choice[l][b];
            if (j < 0) return null;
            result[l] = j;
            b -= _options[l][j].Cost;
        }
        return result;
    }

    /// <summary>The total cost of <paramref name="solution"/>.</summary>
    public long CostOf(int[] solution) => solution.Select((j, l) => _options[l][j].Cost).Sum();

    /// <summary>The cost–damage frontier: for each capacity where the least damage drops, that optimum (cheapest
    /// first). No other choice is both cheaper and less damaging than a frontier point.</summary>
    public IReadOnlyList<(long Cost, double Damage, int[] Choice)> Frontier()
    {
        var points = new List<(long, double, int[])>();
        double last = double.PositiveInfinity;
        for (long b = 0; b <= _capacity; b++)
        {
            if (!(_best[b] < last)) continue;
            last = _best[b];
            var s = Solution(b)!;
            points.Add((CostOf(s), last, s));
        }
        return points;
    }

    /// <summary>Integer costs for real ones: each rounded up to a unit chosen so that the largest total cost takes
    /// at most <paramref name="resolution"/> units. Returns the unit and the rounded options.</summary>
    public static (double Unit, IReadOnlyList<IReadOnlyList<(long Cost, double Damage)>> Options) Discretise(
        IReadOnlyList<IReadOnlyList<(double Cost, double Damage)>> options, int resolution)
    {
        double max = options.Sum(o => o.Max(x => x.Cost));
        double unit = max > 0 ? max / resolution : 1;
        var rounded = options.Select(o => (IReadOnlyList<(long, double)>)o.Select(x => ((long)Math.Ceiling(x.Cost / unit - 1e-9), x.Damage)).ToList()).ToList();
        return (unit, rounded);
    }
}
