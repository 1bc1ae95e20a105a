using System.CommandLine;
using Compressor.Engine.Options;
using Compressor.Host.Console;
using Compressor.Host.Plugins;
using Compressor.Sdk;
using Compressor.Sdk.Models;

namespace Compressor.Host.Commands;

/// <summary><c>compress plugin list</c> and <c>compress plugin describe ID</c>.</summary>
public static class PluginCommands
{
    /// <summary>Builds the <c>plugin</c> command group.</summary>
    public static Command Create(Func<ParseResult, CommandEnvironment> env, Func<ParseResult, Func<CommandEnvironment, ExitCode>, int> execute)
    {
        var list = new Command("list", "List installed plugins with their id, version, SDK version and status (a plugin that cannot load is listed with the reason).");
        list.SetAction(pr => execute(pr, List));
        var id = new Argument<string>("id") { Description = "The plugin id, as shown by 'plugin list'." };
        var describe = new Command("describe", "Show a plugin's manifest and every option: flag, type, default, allowed values, description (json: also the recipe JSON schema).");
        describe.Arguments.Add(id);
        describe.SetAction(pr => execute(pr, e => Describe(e, pr.GetValue(id)!)));
        var group = new Command("plugin", "Inspect the installed compression plugins.");
        group.Subcommands.Add(list);
        group.Subcommands.Add(describe);
        return group;
    }

    /// <summary>Lists plugins. Always exits 0: broken plugins are listed with their reason.</summary>
    public static ExitCode List(CommandEnvironment env)
    {
        var catalog = env.Catalog();
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new PluginListOutput(JsonOutput.SchemaVersion, catalog.SdkVersion, catalog.SearchedDirectories,
                [.. catalog.Entries.Select(e => new PluginListEntry(e.Id, e.Manifest?.Version, e.Manifest?.SdkVersion, e.Manifest?.Kind.ToString().ToLowerInvariant(),
                    e.Manifest?.Needs.ToString().ToLowerInvariant(), e.Manifest?.Description, Naming.ToKebab(e.Status.ToString()),
                    e.Reason.Length == 0 ? null : e.Reason, e.Directory, [.. e.LayerKinds.Select(k => k.Id)]))], Native.DeviceReport.Describe()));
            return ExitCode.Success;
        }
        if (catalog.Entries.Count == 0)
        {
            env.Out.WriteLine($"No plugins found (searched {string.Join(", ", catalog.SearchedDirectories)}).");
            env.Out.WriteLine(Native.DeviceReport.Describe().Line());
            return ExitCode.Success;
        }
        // Every cell may come from a plugin's files (its folder name, manifest, or an error quoting them): escaped
        // and capped, so a manifest cannot forge rows or send terminal escapes.
        var rows = catalog.Entries.Select(e => new[]
        {
            TerminalText.Cell(e.Id, 64), TerminalText.Cell(e.Manifest?.Version ?? "-", 32), TerminalText.Cell(e.Manifest?.SdkVersion ?? "-", 32),
            e.Manifest?.Kind.ToString().ToLowerInvariant() ?? "-", e.Manifest?.Needs.ToString().ToLowerInvariant() ?? "-", Naming.ToKebab(e.Status.ToString()),
            TerminalText.Cell(e.IsAvailable ? e.Manifest!.Description : e.Reason, 200),
        }).ToList();
        TextTable.Write(env.Out, ["ID", "VERSION", "SDK", "KIND", "NEEDS", "STATUS", "DESCRIPTION / REASON"], rows);
        env.Out.WriteLine();
        var sdk = catalog.SdkVersion.Split('.');
        env.Out.WriteLine($"SDK {catalog.SdkVersion} (this host): plugins built against SDK {sdk[0]}.y with y ≤ {sdk[1]} load.");
        env.Out.WriteLine(Native.DeviceReport.Describe().Line());
        return ExitCode.Success;
    }

    /// <summary>Describes one plugin.</summary>
    public static ExitCode Describe(CommandEnvironment env, string id)
    {
        var entry = env.Catalog().Require(id);
        var schema = OptionsSchema.For(entry.Instance!.OptionsType);
        var m = entry.Manifest!;
        if (env.Json)
        {
            JsonOutput.Write(env.Out, new PluginDescription(JsonOutput.SchemaVersion, m.Id, m.Version, m.SdkVersion, m.Description,
                m.Kind.ToString().ToLowerInvariant(), m.Needs.ToString().ToLowerInvariant(),
                [.. Enum.GetValues<LayerType>().Where(k => k != 0 && m.Targets.HasFlag(k)).Select(k => k.ToString().ToLowerInvariant())],
                [.. schema.Options.Select(o => new PluginOptionDescription(o.Flag, o.JsonName, o.TypeName, OptionDescriptor.Format(o.DefaultValue),
                    o.AllowedText.Length == 0 ? null : o.AllowedText, o.Description))],
                schema.JsonSchema()));
            return ExitCode.Success;
        }
        env.Out.WriteLine($"{m.Id} {TerminalText.Cell(m.Version, 32)} (SDK {TerminalText.Cell(m.SdkVersion, 32)}, {m.Kind.ToString().ToLowerInvariant()}, needs {m.Needs.ToString().ToLowerInvariant()} data, targets {m.Targets.ToString().ToLowerInvariant()})");
        if (m.Description.Length > 0) env.Out.WriteLine(TerminalText.Cell(m.Description, 1000));
        env.Out.WriteLine();
        env.Out.WriteLine($"Usage: compress run {m.Id} --model PATH --out DIR [options]");
        env.Out.WriteLine();
        WriteOptions(env.Out, schema);
        return ExitCode.Success;
    }

    /// <summary>The table of a plugin's options (<c>plugin describe</c>, <c>run PLUGIN --help</c>): flag, type,
    /// default, allowed values, description. Former names are not listed.</summary>
    public static void WriteOptions(TextWriter w, OptionsSchema schema) =>
        TextTable.Write(w, ["OPTION", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION"],
            schema.Options.Select(o => new[] { TerminalText.Cell(o.Flag, 64), o.TypeName, OptionDescriptor.Format(o.DefaultValue) is { Length: > 0 } d ? TerminalText.Cell(d, 64) : "-",
                o.AllowedText.Length == 0 ? "-" : TerminalText.Cell(o.AllowedText, 120), TerminalText.Cell(o.Description, 400) }).ToList());
}
