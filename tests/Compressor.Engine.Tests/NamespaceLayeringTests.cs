using System.Reflection;
using System.Reflection.Emit;
using Compressor.Engine.Checkpoints;
using Xunit.Abstractions;

namespace Compressor.Engine.Tests;

/// <summary>The engine's namespaces form an acyclic graph: namespace A depends on B when a type of A uses a type of B
/// in a base type, an interface, a field, a property, an event, a method or constructor signature, or a method body
/// (the types, methods and fields its IL references).</summary>
public sealed class NamespaceLayeringTests(ITestOutputHelper output)
{
    private const string Root = "Compressor.Engine";

    /// <summary>The order the engine is built in, bottom to top; every dependency points down this list.</summary>
    private static readonly string[] Layers =
    [
        "Compressor.Engine.IO", "Compressor.Engine.Options", "Compressor.Engine.Kinds", "Compressor.Engine.Models.Pretrained",
        "Compressor.Engine.Storage", "Compressor.Engine.Storage.PyTorch", "Compressor.Engine.Data", "Compressor.Engine.Models",
        "Compressor.Engine.Onnx.Export", "Compressor.Engine.Architectures", "Compressor.Engine.Onnx.Import", "Compressor.Engine.Checkpoints",
        "Compressor.Engine.Onnx.Verification", "Compressor.Engine.Evaluation", "Compressor.Engine.Training", "Compressor.Engine.Plugins",
    ];

    [Fact]
    public void NamespacesAreAcyclicAndFollowTheLayers()
    {
        var graph = Dependencies(typeof(ModelIO).Assembly);
        foreach (var (from, to) in graph.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            output.WriteLine($"{from} → {string.Join(", ", to.Order(StringComparer.Ordinal))}");
        Assert.Equal(Layers.Order(StringComparer.Ordinal), graph.Keys.Order(StringComparer.Ordinal));
        var rank = Layers.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        var upward = graph.SelectMany(kv => kv.Value.Where(to => rank[to] >= rank[kv.Key]).Select(to => $"{kv.Key} → {to}")).ToList();
        Assert.True(upward.Count == 0, "dependencies that point up (or sideways): " + string.Join("; ", upward));
    }

    /// <summary>Namespace → the other engine namespaces its types use.</summary>
    private static Dictionary<string, HashSet<string>> Dependencies(Assembly assembly)
    {
        var graph = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            string? from = type.Namespace;
            if (from is null || !from.StartsWith(Root, StringComparison.Ordinal)) continue;
            if (!graph.TryGetValue(from, out var deps)) graph[from] = deps = new HashSet<string>(StringComparer.Ordinal);
            foreach (var used in UsedTypes(type))
                foreach (var t in Expand(used))
                    if (t.Namespace is { } ns && ns.StartsWith(Root, StringComparison.Ordinal) && ns != from && t.Assembly == assembly)
                        deps.Add(ns);
        }
        return graph;
    }

    private static IEnumerable<Type> Expand(Type type)
    {
        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType()!)) yield return t;
            yield break;
        }
        if (type.IsGenericParameter) yield break;
        yield return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
            foreach (var a in type.GetGenericArguments())
                foreach (var t in Expand(a))
                    yield return t;
    }

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> UsedTypes(Type type)
    {
        if (type.BaseType is { } b) yield return b;
        foreach (var i in type.GetInterfaces()) yield return i;
        foreach (var f in type.GetFields(All)) yield return f.FieldType;
        foreach (var p in type.GetProperties(All)) yield return p.PropertyType;
        foreach (var e in type.GetEvents(All)) if (e.EventHandlerType is { } h) yield return h;
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (m is MethodInfo mi) yield return mi.ReturnType;
            foreach (var p in m.GetParameters()) yield return p.ParameterType;
            foreach (var t in BodyTypes(m)) yield return t;
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The types whose members or tokens the IL of <paramref name="method"/> references.</summary>
    private static IEnumerable<Type> BodyTypes(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var module = method.Module;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        foreach (var v in method.GetMethodBody()!.LocalVariables) yield return v.LocalType;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos] == 0xFE ? (short)(0xFE00 | il[pos + 1]) : il[pos];
            pos += il[pos] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                {
                    int token = BitConverter.ToInt32(il, pos);
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); }
                    catch (ArgumentException) { }
                    switch (member)
                    {
                        case Type t: yield return t; break;
                        case MethodBase mb:
                            if (mb.DeclaringType is { } dt) yield return dt;
                            if (mb is MethodInfo m2) { yield return m2.ReturnType; foreach (var g in m2.IsGenericMethod ? m2.GetGenericArguments() : []) yield return g; }
                            foreach (var p in mb.GetParameters()) yield return p.ParameterType;
                            break;
                        case FieldInfo f:
                            if (f.DeclaringType is { } ft) yield return ft;
                            yield return f.FieldType;
                            break;
                    }
                    pos += 4;
                    break;
                }
                case OperandType.InlineSwitch:
                    pos += 4 + 4 * BitConverter.ToInt32(il, pos);
                    break;
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
                default:
                    pos += 4;
                    break;
            }
        }
    }
}
