using Compressor.Host.Commands;

namespace Compressor.Host.Tests;

/// <summary>The host's namespaces form layers: none uses, directly or through others, a namespace that uses it — in
/// signatures or anywhere in method bodies (lambdas included).</summary>
public sealed class NamespaceTests
{
    [Fact]
    public void TheHostsNamespacesAreAcyclic()
    {
        var graph = NamespaceGraph.Of(typeof(CliApp).Assembly);
        var cycle = graph.FindCycle();
        Assert.True(cycle is null, cycle is null ? "" : "namespace cycle: " + string.Join(" → ", cycle) + "; edges: " +
            string.Join("; ", cycle.Zip(cycle.Skip(1)).Select(e => graph.Edges[e.First][e.Second])));
    }

    [Fact]
    public void TheLayersAreTheDocumentedOnes()
    {
        // Lowest first; each namespace uses only namespaces before it (host/README.md, "Namespaces, lowest first").
        string[] order =
        [
            "Compressor.Host", "Compressor.Host.Console", "Compressor.Host.Plugins", "Compressor.Host.Results", "Compressor.Host.Reports",
            "Compressor.Host.Pipeline", "Compressor.Host.Demo", "Compressor.Host.Commands",
        ];
        var graph = NamespaceGraph.Of(typeof(CliApp).Assembly);
        foreach (var (from, uses) in graph.Edges)
        {
            Assert.Contains(from, order);
            foreach (var (to, example) in uses)
                Assert.True(Array.IndexOf(order, to) < Array.IndexOf(order, from), $"{from} uses {to}, which comes after it: {example}");
        }
    }

    [Fact]
    public void NoTypeOfTheHostIsInTheGlobalNamespace() =>
        Assert.Empty(typeof(CliApp).Assembly.GetTypes().Where(t => t.Namespace is null && !NamespaceGraph.IsCompilerHelper(t)).Select(t => t.FullName));

    [Fact]
    public void TheScannerSeesUsesInsideMethodBodiesAndLambdasOnly()
    {
        // GraphProbe.Lambda and GraphProbe.Body use GraphProbe.Target only inside a lambda and a method body.
        var graph = NamespaceGraph.Of(typeof(NamespaceTests).Assembly);
        Assert.Contains("Compressor.Host.Tests.GraphProbe.Target", graph.Edges["Compressor.Host.Tests.GraphProbe.Lambda"].Keys);
        Assert.Contains("Compressor.Host.Tests.GraphProbe.Target", graph.Edges["Compressor.Host.Tests.GraphProbe.Body"].Keys);
        Assert.False(graph.Edges.ContainsKey("Compressor.Host.Tests.GraphProbe.Target"));
    }
}
