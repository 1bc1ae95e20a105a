using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Compressor.Sdk.Tests;

/// <summary>The namespace dependency graph of one compiled assembly, read from its metadata and IL: namespace A
/// depends on B when a type of A (or a type nested in it, such as a lambda's closure) uses a type of B — as base type,
/// interface, field, property, parameter, return, local, generic argument, or in a method body (constructed objects,
/// called methods, fields read, casts, typeof). Only the assembly's own namespaces count.</summary>
internal sealed class NamespaceGraph
{
    private readonly SortedDictionary<string, SortedDictionary<string, SortedSet<string>>> _edges = new(StringComparer.Ordinal);

    private NamespaceGraph(ModuleDefinition module)
    {
        foreach (var type in module.GetTypes())
        {
            Use(type, type.BaseType);
            foreach (var i in type.Interfaces) Use(type, i.InterfaceType);
            foreach (var f in type.Fields) Use(type, f.FieldType);
            foreach (var p in type.Properties) Use(type, p.PropertyType);
            foreach (var e in type.Events) Use(type, e.EventType);
            foreach (var m in type.Methods)
            {
                Use(type, m.ReturnType);
                foreach (var p in m.Parameters) Use(type, p.ParameterType);
                if (!m.HasBody) continue;
                foreach (var v in m.Body.Variables) Use(type, v.VariableType);
                foreach (var instruction in m.Body.Instructions)
                    switch (instruction.Operand)
                    {
                        case TypeReference t:
                            Use(type, t);
                            break;
                        case MethodReference called:
                            Use(type, called.DeclaringType);
                            Use(type, called.ReturnType);
                            foreach (var p in called.Parameters) Use(type, p.ParameterType);
                            if (called is GenericInstanceMethod g)
                                foreach (var a in g.GenericArguments) Use(type, a);
                            break;
                        case FieldReference field:
                            Use(type, field.DeclaringType);
                            Use(type, field.FieldType);
                            break;
                    }
            }
        }
    }

    /// <summary>Reads the assembly at <paramref name="path"/>.</summary>
    public static NamespaceGraph Of(string path)
    {
        using var module = ModuleDefinition.ReadModule(path);
        return new NamespaceGraph(module);
    }

    /// <summary>The edges, each with a few of the type pairs that make it.</summary>
    public IEnumerable<(string From, string To, IReadOnlyCollection<string> Because)> Edges =>
        _edges.SelectMany(a => a.Value.Select(b => (a.Key, b.Key, (IReadOnlyCollection<string>)b.Value)));

    /// <summary>The strongly connected components with more than one namespace (Tarjan): each is a cycle.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles()
    {
        var nodes = _edges.Keys.Concat(_edges.Values.SelectMany(v => v.Keys)).Distinct().Order(StringComparer.Ordinal).ToList();
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<IReadOnlyList<string>>();
        int next = 0;
        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            if (_edges.TryGetValue(v, out var targets))
                foreach (var w in targets.Keys)
                {
                    if (!index.ContainsKey(w))
                    {
                        Visit(w);
                        low[v] = Math.Min(low[v], low[w]);
                    }
                    else if (onStack.Contains(w))
                    {
                        low[v] = Math.Min(low[v], index[w]);
                    }
                }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do
            {
                x = stack.Pop();
                onStack.Remove(x);
                component.Add(x);
            } while (x != v);
            if (component.Count > 1) cycles.Add(component.Order(StringComparer.Ordinal).ToList());
        }
        foreach (var n in nodes)
            if (!index.ContainsKey(n)) Visit(n);
        return cycles;
    }

    /// <summary>The edges inside <paramref name="cycle"/>, for the failure message.</summary>
    public string Explain(IReadOnlyList<string> cycle) => string.Join("; ", Edges
        .Where(e => cycle.Contains(e.From) && cycle.Contains(e.To))
        .Select(e => $"{e.From} → {e.To} ({string.Join(", ", e.Because.Take(3))})"));

    private void Use(TypeDefinition from, TypeReference? to)
    {
        switch (to)
        {
            case null or GenericParameter:
                return;
            case GenericInstanceType generic:
                Use(from, generic.ElementType);
                foreach (var argument in generic.GenericArguments) Use(from, argument);
                return;
            case TypeSpecification spec:   // arrays, pointers, by-ref, modifiers
                Use(from, spec.ElementType);
                return;
        }
        if (to.Scope is not ModuleDefinition) return;   // another assembly's type
        var definition = to.Resolve();
        if (definition is null) return;
        string a = NamespaceOf(from), b = NamespaceOf(definition);
        if (a == b || a.Length == 0 || b.Length == 0) return;
        if (!_edges.TryGetValue(a, out var targets)) _edges[a] = targets = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        if (!targets.TryGetValue(b, out var because)) targets[b] = because = new SortedSet<string>(StringComparer.Ordinal);
        because.Add($"{Outer(from).Name} uses {Outer(definition).Name}");
    }

    private static TypeDefinition Outer(TypeDefinition t)
    {
        while (t.IsNested) t = t.DeclaringType;
        return t;
    }

    private static string NamespaceOf(TypeDefinition t) => Outer(t).Namespace;
}
