using System.Reflection;

namespace Compressor.Sdk.Tests;

/// <summary>The shape of the SDK 2.0 split, checked on the compiled assemblies: every assembly's namespaces are acyclic;
/// the plugin contract stays small and exposes no type of OnnxSharp, ONNX Runtime or Newtonsoft.Json (an upgrade of
/// any of them must not force an SDK major); plugins compile against the contract and the layers library only; the
/// engine never references the layers library (it knows kinds through the contract).</summary>
public sealed class ArchitectureTests
{
    /// <summary>The assemblies of the product, by file name beside the tests (project references copy them here).</summary>
    public static TheoryData<string> Assemblies() =>
    [
        "Compressor.Sdk.dll", "Compressor.Layers.dll", "Compressor.Engine.dll", "Compressor.Sdk.Testing.dll", "compress.dll",
        "StatsQ.dll", "JLCM.dll", "Sparsity.dll", "RoundToNearest.dll", "GPTQ.dll",
    ];

    private static string PathOf(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, file);
        Assert.True(File.Exists(path), $"{file} is not beside the tests (is it referenced by Compressor.Sdk.Tests.csproj?)");
        return path;
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void NamespacesAreAcyclic(string assembly)
    {
        var graph = NamespaceGraph.Of(PathOf(assembly));
        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, $"{assembly}: namespace cycle(s): " + string.Join(" | ", cycles.Select(c => $"[{string.Join(", ", c)}] {graph.Explain(c)}")));
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void NoTypeIsInTheGlobalNamespace(string assembly)
    {
        var global = Assembly.LoadFrom(PathOf(assembly)).GetTypes()
            .Where(t => string.IsNullOrEmpty(t.Namespace) && !t.Name.StartsWith('<') && !t.IsNested).Select(t => t.FullName).ToList();
        Assert.True(global.Count == 0, $"{assembly}: types in the global namespace: {string.Join(", ", global)}");
    }

    /// <summary>The graph sees uses that only a method body or a lambda holds (GraphProbe.cs: each namespace uses the
    /// target in one hidden place only), and invents none.</summary>
    [Fact]
    public void TheGraphSeesUsesInsideMethodBodiesAndLambdas()
    {
        var graph = NamespaceGraph.Of(typeof(ArchitectureTests).Assembly.Location);
        var edges = graph.Edges.Where(e => e.From.Contains(".GraphProbe.")).Select(e => (e.From, e.To)).ToList();
        Assert.Contains(("Compressor.Sdk.Tests.GraphProbe.Lambda", "Compressor.Sdk.Tests.GraphProbe.Target"), edges);
        Assert.Contains(("Compressor.Sdk.Tests.GraphProbe.Body", "Compressor.Sdk.Tests.GraphProbe.Target"), edges);
        Assert.DoesNotContain(edges, e => e.From == "Compressor.Sdk.Tests.GraphProbe.Target");
    }

    /// <summary>The contract's public types (the goal the redesign set: at most 50).</summary>
    public const int ContractTypeLimit = 50;

    [Fact]
    public void ContractHasAtMostFiftyPublicTypes()
    {
        var types = typeof(SdkInfo).Assembly.GetExportedTypes();
        Assert.True(types.Length <= ContractTypeLimit, $"the contract has {types.Length} public types (limit {ContractTypeLimit}): {string.Join(", ", types.Select(t => t.Name).Order())}");
    }

    [Fact]
    public void ContractDependsOnTorchSharpOnly()
    {
        var references = typeof(SdkInfo).Assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => !IsFramework(n)).Order().ToList();
        Assert.Equal(["TorchSharp"], references);
    }

    [Theory]
    [InlineData("Compressor.Sdk.dll")]
    [InlineData("Compressor.Layers.dll")]
    [InlineData("Compressor.Sdk.Testing.dll")]
    public void PublicApiExposesNoOnnxSharpOrtOrNewtonsoftType(string assembly)
    {
        var offending = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in Assembly.LoadFrom(PathOf(assembly)).GetExportedTypes())
            foreach (var (member, used) in PublicSignatureTypes(type))
                if (IsForbidden(used)) offending.Add($"{type.Name}.{member}: {used.FullName}");
        Assert.True(offending.Count == 0, $"{assembly} exposes: " + string.Join("; ", offending.Take(10)));
    }

    [Theory]
    [InlineData("StatsQ.dll")]
    [InlineData("JLCM.dll")]
    [InlineData("Sparsity.dll")]
    [InlineData("RoundToNearest.dll")]
    [InlineData("GPTQ.dll")]
    public void PluginsReferenceTheContractAndTheLayersLibraryOnly(string plugin)
    {
        var references = Assembly.LoadFrom(PathOf(plugin)).GetReferencedAssemblies().Select(a => a.Name!).Where(n => !IsFramework(n)).ToList();
        var allowed = new[] { "Compressor.Sdk", "Compressor.Layers", "TorchSharp" };
        Assert.True(references.All(allowed.Contains), $"{plugin} references {string.Join(", ", references.Except(allowed))}");
    }

    [Theory]
    [InlineData("Compressor.Engine.dll")]
    [InlineData("Compressor.Layers.dll")]
    public void LowerAssembliesDoNotReferenceEachOtherOrTheHost(string assembly)
    {
        var references = Assembly.LoadFrom(PathOf(assembly)).GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.DoesNotContain("compress", references);
        Assert.DoesNotContain(assembly == "Compressor.Engine.dll" ? "Compressor.Layers" : "Compressor.Engine", references);
    }

    private static bool IsFramework(string name) => name is "netstandard" or "mscorlib" || name.StartsWith("System", StringComparison.Ordinal) ||
                                                    name.StartsWith("Microsoft.Win32", StringComparison.Ordinal);

    private static bool IsForbidden(Type t)
    {
        string assembly = t.Assembly.GetName().Name ?? "";
        return assembly is "OnnxSharp" or "Google.Protobuf" or "Newtonsoft.Json" || assembly.StartsWith("Microsoft.ML.OnnxRuntime", StringComparison.Ordinal);
    }

    /// <summary>Every type a public or protected signature of <paramref name="type"/> mentions, generic arguments and
    /// element types included.</summary>
    private static IEnumerable<(string Member, Type Used)> PublicSignatureTypes(Type type)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        IEnumerable<Type> Expand(Type? t)
        {
            if (t is null) yield break;
            if (t.HasElementType) { foreach (var e in Expand(t.GetElementType())) yield return e; yield break; }
            yield return t;
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
                foreach (var a in t.GetGenericArguments())
                    foreach (var e in Expand(a)) yield return e;
        }
        foreach (var t in Expand(type.BaseType)) yield return ("(base)", t);
        foreach (var i in type.GetInterfaces())
            foreach (var t in Expand(i)) yield return ("(interface)", t);
        foreach (var m in type.GetMembers(all))
        {
            switch (m)
            {
                case MethodBase method when method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly:
                    if (method is MethodInfo mi)
                        foreach (var t in Expand(mi.ReturnType)) yield return (m.Name, t);
                    foreach (var p in method.GetParameters())
                        foreach (var t in Expand(p.ParameterType)) yield return (m.Name, t);
                    break;
                case PropertyInfo property when property.GetMethod is { } g && (g.IsPublic || g.IsFamily):
                    foreach (var t in Expand(property.PropertyType)) yield return (m.Name, t);
                    break;
                case FieldInfo field when field.IsPublic || field.IsFamily:
                    foreach (var t in Expand(field.FieldType)) yield return (m.Name, t);
                    break;
                case EventInfo e:
                    foreach (var t in Expand(e.EventHandlerType)) yield return (m.Name, t);
                    break;
            }
        }
    }
}
