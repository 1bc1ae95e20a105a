using System.Reflection;
using System.Reflection.Emit;

namespace Compressor.Host.Tests;

/// <summary>Which namespaces of an assembly use which: namespace A depends on namespace B when a type of A (or a type
/// the compiler generated inside it: lambdas' closures, iterators, local functions) uses a type of B anywhere — base
/// type, interfaces, fields, properties, signatures, attributes, local variables, and every type, method and field
/// token in method bodies (read from the IL). Only types defined in the assembly count, and not the compiler's own
/// top-level helpers (<c>&lt;PrivateImplementationDetails&gt;</c>, <c>&lt;&gt;z__ReadOnlyArray</c>, …, in the global
/// namespace); what the compiler generates inside a type (closures, iterators) counts as that type's.</summary>
public sealed class NamespaceGraph
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private readonly Assembly _assembly;

    private NamespaceGraph(Assembly assembly) => _assembly = assembly;

    /// <summary>Edges: namespace → namespace it uses → one example ("type uses type").</summary>
    public SortedDictionary<string, SortedDictionary<string, string>> Edges { get; } = new(StringComparer.Ordinal);

    /// <summary>The graph of <paramref name="assembly"/>.</summary>
    public static NamespaceGraph Of(Assembly assembly)
    {
        var graph = new NamespaceGraph(assembly);
        foreach (var type in assembly.GetTypes().Where(t => !IsCompilerHelper(t))) graph.Scan(type);
        return graph;
    }

    /// <summary>Top-level types the compiler adds to an assembly (names starting with '&lt;'), which belong to no namespace of its author.</summary>
    public static bool IsCompilerHelper(Type type)
    {
        var top = type;
        while (top.DeclaringType is not null) top = top.DeclaringType;
        return top.Name.StartsWith('<');
    }

    /// <summary>A cycle as a list of namespaces (first = last), or null when the graph is acyclic.</summary>
    public List<string>? FindCycle()
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal);   // 1 on the stack, 2 done
        var stack = new List<string>();
        List<string>? Visit(string n)
        {
            state[n] = 1;
            stack.Add(n);
            foreach (var m in Edges.TryGetValue(n, out var e) ? e.Keys.ToList() : [])
            {
                if (state.GetValueOrDefault(m) == 1) return [.. stack.Skip(stack.IndexOf(m)), m];
                if (state.GetValueOrDefault(m) == 0 && Visit(m) is { } c) return c;
            }
            stack.RemoveAt(stack.Count - 1);
            state[n] = 2;
            return null;
        }
        foreach (var n in Edges.Keys)
            if (state.GetValueOrDefault(n) == 0 && Visit(n) is { } cycle) return cycle;
        return null;
    }

    /// <summary>The namespaces in an order where each comes after every namespace it uses (requires no cycle).</summary>
    public List<string> Layers()
    {
        var names = Edges.Keys.Concat(Edges.Values.SelectMany(e => e.Keys)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        void Visit(string n)
        {
            if (!done.Add(n)) return;
            foreach (var m in Edges.TryGetValue(n, out var e) ? e.Keys.ToList() : []) Visit(m);
            order.Add(n);
        }
        foreach (var n in names) Visit(n);
        return order;
    }

    private static string Name(Type t) => t.Namespace ?? "(global)";

    private void Use(Type from, Type? to)
    {
        if (to is null) return;
        if (to.HasElementType) { Use(from, to.GetElementType()); return; }
        if (to.IsGenericType && !to.IsGenericTypeDefinition)
        {
            foreach (var a in to.GetGenericArguments()) Use(from, a);
            to = to.GetGenericTypeDefinition();
        }
        if (to.IsGenericParameter || to.Assembly != _assembly || IsCompilerHelper(to)) return;
        string a1 = Name(from), b = Name(to);
        if (a1 == b) return;
        if (!Edges.TryGetValue(a1, out var edges)) Edges[a1] = edges = new(StringComparer.Ordinal);
        edges.TryAdd(b, $"{from.FullName} uses {to.FullName}");
    }

    private void Attributes(Type from, IEnumerable<CustomAttributeData> attributes)
    {
        foreach (var a in attributes)
        {
            Use(from, a.AttributeType);
            foreach (var arg in a.ConstructorArguments.Concat(a.NamedArguments.Select(n => n.TypedValue)))
            {
                Use(from, arg.ArgumentType);
                if (arg.Value is Type t) Use(from, t);
            }
        }
    }

    private void Scan(Type type)
    {
        Use(type, type.BaseType);
        foreach (var i in type.GetInterfaces()) Use(type, i);
        Attributes(type, type.GetCustomAttributesData());
        foreach (var f in type.GetFields(All)) { Use(type, f.FieldType); Attributes(type, f.GetCustomAttributesData()); }
        foreach (var p in type.GetProperties(All)) { Use(type, p.PropertyType); Attributes(type, p.GetCustomAttributesData()); }
        foreach (var e in type.GetEvents(All)) Use(type, e.EventHandlerType);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            Attributes(type, m.GetCustomAttributesData());
            if (m is MethodInfo mi) Use(type, mi.ReturnType);
            foreach (var p in m.GetParameters()) { Use(type, p.ParameterType); Attributes(type, p.GetCustomAttributesData()); }
            if (m.IsGenericMethodDefinition)
                foreach (var g in m.GetGenericArguments())
                    foreach (var c in g.GetGenericParameterConstraints()) Use(type, c);
            var body = m.GetMethodBody();
            if (body is null) continue;
            foreach (var local in body.LocalVariables) Use(type, local.LocalType);
            foreach (var clause in body.ExceptionHandlingClauses)
                if (clause.Flags == ExceptionHandlingClauseOptions.Clause) Use(type, clause.CatchType);
            Body(type, m, body.GetILAsByteArray() ?? []);
        }
    }

    private void Body(Type type, MethodBase method, byte[] il)
    {
        var typeArgs = type.IsGenericType ? type.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var module = method.Module;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos++];
            if (value == 0xFE) value = (short)(0xFE00 | il[pos++]);
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    pos += 1;
                    break;
                case OperandType.InlineVar:
                    pos += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    pos += 8;
                    break;
                case OperandType.InlineSwitch:
                    int n = BitConverter.ToInt32(il, pos);
                    pos += 4 + 4 * n;
                    break;
                case OperandType.InlineType or OperandType.InlineTok or OperandType.InlineMethod or OperandType.InlineField:
                    int token = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    var member = module.ResolveMember(token, typeArgs, methodArgs);
                    switch (member)
                    {
                        case Type t:
                            Use(type, t);
                            break;
                        case FieldInfo f:
                            Use(type, f.DeclaringType);
                            Use(type, f.FieldType);
                            break;
                        case MethodBase mb:
                            Use(type, mb.DeclaringType);
                            if (mb is MethodInfo called)
                            {
                                Use(type, called.ReturnType);
                                if (called.IsGenericMethod) foreach (var g in called.GetGenericArguments()) Use(type, g);
                            }
                            foreach (var p in mb.GetParameters()) Use(type, p.ParameterType);
                            break;
                    }
                    break;
                default:   // InlineI, InlineBrTarget, InlineString, InlineSig, ShortInlineR
                    pos += 4;
                    break;
            }
        }
    }
}
