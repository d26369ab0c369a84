using GrainMail.Sieve.Syntax;

namespace GrainMail.Sieve.Validation;

/// <summary>A script that parsed and validated, with the extensions it requires.</summary>
public sealed record CompiledSieve(SieveScript Script, IReadOnlySet<string> Required, IReadOnlyList<string> Includes);

/// <summary>
/// Checks a parsed script's meaning (RFC 5228 2.10.5, 3, 8.2 and each extension's syntax):
/// require first and only known extensions; each command and test known, its extension required,
/// its arguments of the right kinds; if/elsif/else chains; test lists only for allof/anyof;
/// relational operators, comparators, date parts, zones and flag variables well formed.
/// The first problem is reported with its line.
/// </summary>
public static class SieveValidator
{
    public static readonly IReadOnlySet<string> RelationalOperators = new HashSet<string>(["gt", "ge", "lt", "le", "eq", "ne"]);

    public static readonly IReadOnlySet<string> DateParts = new HashSet<string>(
        ["year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone", "weekday"]);

    /// <summary>Parses and validates: the one entry point of uploads (ManageSieve, API) and delivery.</summary>
    public static (CompiledSieve? Script, SieveError? Error) Compile(string text, SieveLimits? limits = null)
    {
        var (script, error) = SieveParser.Parse(text, limits);
        if (script is null) return (null, error);
        try
        {
            var state = new State();
            Commands(script.Commands, state, topLevel: true);
            return (new CompiledSieve(script, state.Required, state.Includes), null);
        }
        catch (SieveSyntaxException e)
        {
            return (null, e.Error);
        }
    }

    private sealed class State
    {
        public HashSet<string> Required { get; } = new(StringComparer.Ordinal);
        public List<string> Includes { get; } = [];
        public bool PastRequire;
    }

    private static void Commands(IReadOnlyList<SieveCommand> commands, State state, bool topLevel)
    {
        string? previous = null;
        foreach (var c in commands)
        {
            if (!SieveSignatures.Commands.TryGetValue(c.Name, out var sig))
                throw new SieveSyntaxException(c.Line, $"unknown command '{c.Name}'");
            if (c.Name == "require")
            {
                // RFC 5228 3.2: require only at the start of the script.
                if (!topLevel || state.PastRequire) throw new SieveSyntaxException(c.Line, "'require' must come before every other command");
                var bound = SieveSignatures.Bind(sig, c.Arguments, c.Line, null);
                foreach (var ext in bound.StringAt(0)!.Values)
                {
                    if (!SieveSignatures.Extensions.Contains(ext)) throw new SieveSyntaxException(c.Line, $"unsupported extension \"{ext}\"");
                    state.Required.Add(ext);
                    // RFC 6131 builds on vacation: requiring vacation-seconds makes vacation available too.
                    if (ext == "vacation-seconds") state.Required.Add("vacation");
                }
                NoTestsNoBlock(c);
                previous = c.Name;
                continue;
            }
            state.PastRequire = true;
            if (sig.Extension is { } ext2 && !state.Required.Contains(ext2))
                throw new SieveSyntaxException(c.Line, $"'{c.Name}' needs require \"{ext2}\"");
            var args = SieveSignatures.Bind(sig, c.Arguments, c.Line, state.Required);
            switch (c.Name)
            {
                case "if" or "elsif":
                    if (c.Name == "elsif" && previous is not ("if" or "elsif")) throw new SieveSyntaxException(c.Line, "'elsif' without 'if'");
                    if (c.Tests.Count != 1 || c.TestList) throw new SieveSyntaxException(c.Line, $"'{c.Name}' needs exactly one test");
                    if (c.Block is null) throw new SieveSyntaxException(c.Line, $"'{c.Name}' needs a block");
                    Test(c.Tests[0], state);
                    Commands(c.Block, state, topLevel: false);
                    break;
                case "else":
                    if (previous is not ("if" or "elsif")) throw new SieveSyntaxException(c.Line, "'else' without 'if'");
                    if (c.Tests.Count != 0) throw new SieveSyntaxException(c.Line, "'else' takes no test");
                    if (c.Block is null) throw new SieveSyntaxException(c.Line, "'else' needs a block");
                    Commands(c.Block, state, topLevel: false);
                    break;
                default:
                    NoTestsNoBlock(c);
                    Action(c, args, state);
                    break;
            }
            previous = c.Name;
        }
    }

    private static void NoTestsNoBlock(SieveCommand c)
    {
        if (c.Tests.Count > 0) throw new SieveSyntaxException(c.Line, $"'{c.Name}' takes no test");
        if (c.Block is not null) throw new SieveSyntaxException(c.Line, $"'{c.Name}' takes no block");
    }

    private static bool Expands(State state, string s) => state.Required.Contains("variables") && s.Contains("${", StringComparison.Ordinal);

    private static void Action(SieveCommand c, BoundArguments args, State state)
    {
        switch (c.Name)
        {
            case "fileinto":
                if (args.StringAt(0)!.Single.Length == 0) throw new SieveSyntaxException(c.Line, "'fileinto' needs a folder name");
                break;
            case "redirect":
                {
                    var to = args.StringAt(0)!.Single;
                    if (!Expands(state, to) && !SieveAddresses.IsValidMailbox(to))
                        throw new SieveSyntaxException(c.Line, $"'redirect' needs an address, \"{to}\" is not one");
                    break;
                }
            case "vacation":
                {
                    if (args.TagNumber("days") is < 1) throw new SieveSyntaxException(c.Line, "':days' must be at least 1");
                    if (args.TagNumber("seconds") is < 0) throw new SieveSyntaxException(c.Line, "':seconds' must not be negative");
                    if (args.TagString("from") is { } from && !Expands(state, from) && !SieveAddresses.IsValidMailbox(from))
                        throw new SieveSyntaxException(c.Line, $"':from' needs an address, \"{from}\" is not one");
                    foreach (var a in args.TagList("addresses") ?? [])
                        if (!Expands(state, a) && !SieveAddresses.IsValidMailbox(a))
                            throw new SieveSyntaxException(c.Line, $"':addresses' holds \"{a}\", which is not an address");
                    break;
                }
            case "setflag" or "addflag" or "removeflag":
                if (args.StringAt(0) is { } v) VariableName(v.Single, c.Line);
                break;
            case "set":
                VariableName(args.StringAt(0)!.Single, c.Line);
                break;
            case "include":
                {
                    if (args.Has("global")) throw new SieveSyntaxException(c.Line, "global scripts are not supported (':personal' only)");
                    var name = args.StringAt(0)!.Single;
                    if (!Expands(state, name) && !SieveScriptNames.IsValid(name)) throw new SieveSyntaxException(c.Line, $"\"{name}\" is not a valid script name");
                    state.Includes.Add(name);
                    break;
                }
            case "global":
                if (!state.Required.Contains("variables")) throw new SieveSyntaxException(c.Line, "'global' needs require \"variables\"");
                foreach (var n in args.StringAt(0)!.Values) VariableName(n, c.Line);
                break;
        }
    }

    private static void VariableName(string name, int line)
    {
        // RFC 5229 3: identifier (namespaces are not supported for assignment).
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] == '_') || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_'))
            throw new SieveSyntaxException(line, $"\"{name}\" is not a variable name");
    }

    private static void Test(SieveTest t, State state)
    {
        if (!SieveSignatures.Tests.TryGetValue(t.Name, out var sig)) throw new SieveSyntaxException(t.Line, $"unknown test '{t.Name}'");
        if (sig.Extension is { } ext && !state.Required.Contains(ext)) throw new SieveSyntaxException(t.Line, $"'{t.Name}' needs require \"{ext}\"");
        var args = SieveSignatures.Bind(sig, t.Arguments, t.Line, state.Required);
        switch (t.Name)
        {
            case "not":
                if (t.Tests.Count != 1 || t.TestList) throw new SieveSyntaxException(t.Line, "'not' needs exactly one test");
                Test(t.Tests[0], state);
                return;
            case "allof" or "anyof":
                if (t.Tests.Count == 0 || !t.TestList) throw new SieveSyntaxException(t.Line, $"'{t.Name}' needs a test list");
                foreach (var inner in t.Tests) Test(inner, state);
                return;
        }
        if (t.Tests.Count > 0) throw new SieveSyntaxException(t.Line, $"'{t.Name}' takes no nested test");
        if (t.Name == "size" && !args.Has("over") && !args.Has("under")) throw new SieveSyntaxException(t.Line, "'size' needs ':over' or ':under'");
        if ((args.TagString("value") ?? args.TagString("count")) is { } op && !RelationalOperators.Contains(op.ToLowerInvariant()))
            throw new SieveSyntaxException(t.Line, $"\"{op}\" is not a relational operator (gt, ge, lt, le, eq, ne)");
        if (args.TagString("comparator") is { } cmp)
        {
            if (!SieveComparators.IsKnown(cmp)) throw new SieveSyntaxException(t.Line, $"unknown comparator \"{cmp}\"");
            if (!SieveComparators.IsBuiltIn(cmp) && !state.Required.Contains("comparator-" + cmp))
                throw new SieveSyntaxException(t.Line, $"comparator \"{cmp}\" needs require \"comparator-{cmp}\"");
        }
        if (args.Has("regex"))
        {
            var comparator = args.TagString("comparator") ?? SieveComparators.AsciiCasemap;
            // The keys are the last positional argument of every test that takes a match type.
            if (args.Positional[^1] is StringListArgument keys)
                foreach (var key in keys.Values)
                {
                    if (Expands(state, key)) continue;
                    var (_, error) = SieveRegex.Compile(key, comparator);
                    if (error is not null) throw new SieveSyntaxException(t.Line, error);
                }
        }
        if (args.Has("last") && !args.Has("index")) throw new SieveSyntaxException(t.Line, "':last' needs ':index'");
        if (args.TagNumber("index") is < 1) throw new SieveSyntaxException(t.Line, "':index' counts from 1");
        if (args.TagString("zone") is { } zone && !Expands(state, zone) && !SieveDates.TryParseZone(zone, out _))
            throw new SieveSyntaxException(t.Line, $"\"{zone}\" is not a zone (+hhmm or -hhmm)");
        switch (t.Name)
        {
            case "envelope":
                foreach (var part in args.StringAt(0)!.Values)
                    if (!Expands(state, part) && part.ToLowerInvariant() is not ("from" or "to"))
                        throw new SieveSyntaxException(t.Line, $"envelope part \"{part}\" is not supported (from, to)");
                break;
            case "date" or "currentdate":
                {
                    var part = args.StringAt(t.Name == "date" ? 1 : 0)!.Single;
                    if (!Expands(state, part) && !DateParts.Contains(part.ToLowerInvariant()))
                        throw new SieveSyntaxException(t.Line, $"\"{part}\" is not a date part");
                    break;
                }
            case "hasflag":
                if (args.StringAt(0) is { } vars) foreach (var v in vars.Values) VariableName(v, t.Line);
                break;
            case "body":
                if (args.TagList("content") is { } types && types.Any(string.IsNullOrWhiteSpace))
                    throw new SieveSyntaxException(t.Line, "':content' needs content types");
                break;
        }
    }
}
