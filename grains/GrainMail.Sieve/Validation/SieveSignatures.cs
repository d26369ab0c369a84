using GrainMail.Sieve.Syntax;

namespace GrainMail.Sieve.Validation;

/// <summary>The kind of value a positional argument or a tag's parameter takes.</summary>
public enum SieveArgKind
{
    String,
    StringList,
    Number,
}

/// <summary>
/// A tagged argument: its name, the value that follows it (if any), the extension it needs, and the
/// group of tags of which at most one may appear (match type, comparator, address part, …).
/// </summary>
public sealed record SieveTagSpec(string Name, SieveArgKind? Value = null, string? Extension = null, string? Group = null);

/// <summary>
/// What a command or test takes. Optional positional arguments come first (RFC 5232's
/// <c>setflag [variablename] flags</c>, RFC 5229's hasflag variable list): with fewer
/// arguments than <see cref="Positional"/> holds, the leading ones are the missing ones.
/// </summary>
public sealed record SieveSignature(string Name, string? Extension, IReadOnlyList<SieveArgKind> Positional, IReadOnlyList<SieveTagSpec> Tags,
    int? MinPositional = null)
{
    public int Min => MinPositional ?? Positional.Count;
}

/// <summary>The arguments of one command or test sorted out: tags (with their values) and positionals in order.</summary>
public sealed record BoundArguments(IReadOnlyDictionary<string, SieveArgument?> Tags, IReadOnlyList<SieveArgument?> Positional)
{
    public bool Has(string tag) => Tags.ContainsKey(tag);

    public string? TagString(string tag) => Tags.GetValueOrDefault(tag) is StringListArgument s ? s.Single : null;

    public IReadOnlyList<string>? TagList(string tag) => Tags.GetValueOrDefault(tag) is StringListArgument s ? s.Values : null;

    public long? TagNumber(string tag) => Tags.GetValueOrDefault(tag) is NumberArgument n ? n.Value : null;

    public StringListArgument? StringAt(int i) => i < Positional.Count ? Positional[i] as StringListArgument : null;

    public long? NumberAt(int i) => i < Positional.Count && Positional[i] is NumberArgument n ? n.Value : null;

    /// <summary>The match type tag given (is, contains, matches, value, count, regex), "is" when none.</summary>
    public string MatchType => Tags.Keys.FirstOrDefault(k => k is "is" or "contains" or "matches" or "value" or "count" or "regex") ?? "is";
}

/// <summary>Every command and test GrainMail's Sieve knows, with the extension each needs.</summary>
public static class SieveSignatures
{
    /// <summary>Extensions a script may require (RFC 5228 3.2); the capability string of ManageSieve lists them.</summary>
    public static readonly IReadOnlyList<string> Extensions =
    [
        "fileinto", "reject", "envelope", "body", "relational", "subaddress", "copy", "date", "index",
        "variables", "include", "vacation", "vacation-seconds", "imap4flags", "mailbox", "regex", "ereject",
        "comparator-i;octet", "comparator-i;ascii-casemap", "comparator-i;ascii-numeric", "comparator-i;unicode-casemap",
    ];

    private static readonly SieveTagSpec[] Comparator = [new("comparator", SieveArgKind.String, Group: "comparator")];

    private static readonly SieveTagSpec[] MatchTypes =
    [
        new("is", Group: "match"), new("contains", Group: "match"), new("matches", Group: "match"),
        new("value", SieveArgKind.String, "relational", "match"), new("count", SieveArgKind.String, "relational", "match"),
        new("regex", Extension: "regex", Group: "match"),
    ];

    private static readonly SieveTagSpec[] AddressParts =
    [
        new("all", Group: "part"), new("localpart", Group: "part"), new("domain", Group: "part"),
        new("user", Extension: "subaddress", Group: "part"), new("detail", Extension: "subaddress", Group: "part"),
    ];

    private static readonly SieveTagSpec[] Index = [new("index", SieveArgKind.Number, "index"), new("last", Extension: "index")];

    private static readonly SieveTagSpec[] Zone = [new("zone", SieveArgKind.String, Group: "zone"), new("originalzone", Group: "zone")];

    private static readonly SieveArgKind[] Keys = [SieveArgKind.StringList, SieveArgKind.StringList];

    public static readonly IReadOnlyDictionary<string, SieveSignature> Commands = new[]
    {
        new SieveSignature("require", null, [SieveArgKind.StringList], []),
        new SieveSignature("if", null, [], []),
        new SieveSignature("elsif", null, [], []),
        new SieveSignature("else", null, [], []),
        new SieveSignature("stop", null, [], []),
        new SieveSignature("keep", null, [], [new("flags", SieveArgKind.StringList, "imap4flags")]),
        new SieveSignature("discard", null, [], []),
        new SieveSignature("redirect", null, [SieveArgKind.String], [new("copy", Extension: "copy")]),
        new SieveSignature("fileinto", "fileinto", [SieveArgKind.String],
            [new("copy", Extension: "copy"), new("flags", SieveArgKind.StringList, "imap4flags"), new("create", Extension: "mailbox")]),
        new SieveSignature("reject", "reject", [SieveArgKind.String], []),
        new SieveSignature("ereject", "ereject", [SieveArgKind.String], []),
        new SieveSignature("vacation", "vacation", [SieveArgKind.String],
        [
            new("days", SieveArgKind.Number, Group: "period"), new("seconds", SieveArgKind.Number, "vacation-seconds", "period"), new("subject", SieveArgKind.String), new("from", SieveArgKind.String),
            new("addresses", SieveArgKind.StringList), new("mime"), new("handle", SieveArgKind.String),
        ]),
        new SieveSignature("setflag", "imap4flags", [SieveArgKind.String, SieveArgKind.StringList], [], 1),
        new SieveSignature("addflag", "imap4flags", [SieveArgKind.String, SieveArgKind.StringList], [], 1),
        new SieveSignature("removeflag", "imap4flags", [SieveArgKind.String, SieveArgKind.StringList], [], 1),
        new SieveSignature("set", "variables", [SieveArgKind.String, SieveArgKind.String],
        [
            new("lower", Group: "case"), new("upper", Group: "case"), new("lowerfirst", Group: "casefirst"), new("upperfirst", Group: "casefirst"),
            new("quotewildcard", Group: "quote"), new("length", Group: "length"),
        ]),
        new SieveSignature("include", "include", [SieveArgKind.String],
            [new("personal", Group: "location"), new("global", Group: "location"), new("once"), new("optional")]),
        new SieveSignature("return", "include", [], []),
        new SieveSignature("global", "include", [SieveArgKind.StringList], []),
    }.ToDictionary(s => s.Name);

    public static readonly IReadOnlyDictionary<string, SieveSignature> Tests = new[]
    {
        new SieveSignature("address", null, Keys, [.. Comparator, .. MatchTypes, .. AddressParts, .. Index]),
        new SieveSignature("envelope", "envelope", Keys, [.. Comparator, .. MatchTypes, .. AddressParts]),
        new SieveSignature("header", null, Keys, [.. Comparator, .. MatchTypes, .. Index]),
        new SieveSignature("exists", null, [SieveArgKind.StringList], []),
        new SieveSignature("size", null, [SieveArgKind.Number], [new("over", Group: "size"), new("under", Group: "size")]),
        new SieveSignature("true", null, [], []),
        new SieveSignature("false", null, [], []),
        new SieveSignature("not", null, [], []),
        new SieveSignature("allof", null, [], []),
        new SieveSignature("anyof", null, [], []),
        new SieveSignature("body", "body", [SieveArgKind.StringList],
            [.. Comparator, .. MatchTypes, new("raw", Group: "transform"), new("content", SieveArgKind.StringList, Group: "transform"), new("text", Group: "transform")]),
        new SieveSignature("date", "date", [SieveArgKind.String, SieveArgKind.String, SieveArgKind.StringList], [.. Comparator, .. MatchTypes, .. Zone, .. Index]),
        new SieveSignature("currentdate", "date", [SieveArgKind.String, SieveArgKind.StringList], [.. Comparator, .. MatchTypes, Zone[0]]),
        new SieveSignature("string", "variables", Keys, [.. Comparator, .. MatchTypes]),
        new SieveSignature("hasflag", "imap4flags", Keys, [.. Comparator, .. MatchTypes], 1),
        new SieveSignature("mailboxexists", "mailbox", [SieveArgKind.StringList], []),
    }.ToDictionary(s => s.Name);

    /// <summary>Sorts out <paramref name="args"/> against <paramref name="signature"/>; throws with the line and reason when they do not fit.</summary>
    public static BoundArguments Bind(SieveSignature signature, IReadOnlyList<SieveArgument> args, int line, ISet<string>? required)
    {
        var tags = new Dictionary<string, SieveArgument?>(StringComparer.Ordinal);
        var groups = new Dictionary<string, string>(StringComparer.Ordinal);
        var positional = new List<SieveArgument>();
        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a is TagArgument tag)
            {
                if (positional.Count > 0) throw new SieveSyntaxException(tag.Line, $"':{tag.Name}' must come before the other arguments of '{signature.Name}'");
                var spec = signature.Tags.FirstOrDefault(t => t.Name == tag.Name)
                    ?? throw new SieveSyntaxException(tag.Line, $"'{signature.Name}' has no ':{tag.Name}' argument");
                if (spec.Extension is { } ext && required is not null && !required.Contains(ext))
                    throw new SieveSyntaxException(tag.Line, $"':{tag.Name}' needs require \"{ext}\"");
                if (tags.ContainsKey(tag.Name)) throw new SieveSyntaxException(tag.Line, $"':{tag.Name}' given twice");
                if (spec.Group is { } g)
                {
                    if (groups.TryGetValue(g, out var other)) throw new SieveSyntaxException(tag.Line, $"':{tag.Name}' cannot be used with ':{other}'");
                    groups[g] = tag.Name;
                }
                SieveArgument? value = null;
                if (spec.Value is { } kind)
                {
                    if (i + 1 >= args.Count || args[i + 1] is TagArgument)
                        throw new SieveSyntaxException(tag.Line, $"':{tag.Name}' needs a {Name(kind)} after it");
                    value = args[++i];
                    Check(value, kind, $"':{tag.Name}'");
                }
                tags[tag.Name] = value;
            }
            else positional.Add(a);
        }
        if (positional.Count > signature.Positional.Count || positional.Count < signature.Min)
        {
            var expected = signature.Min == signature.Positional.Count ? $"{signature.Min}" : $"{signature.Min} or {signature.Positional.Count}";
            throw new SieveSyntaxException(line, $"'{signature.Name}' takes {expected} positional argument{(signature.Positional.Count == 1 ? "" : "s")}, got {positional.Count}");
        }
        var missing = signature.Positional.Count - positional.Count;
        var bound = new List<SieveArgument?>();
        for (var k = 0; k < missing; k++) bound.Add(null);
        for (var k = 0; k < positional.Count; k++)
        {
            Check(positional[k], signature.Positional[missing + k], $"argument {k + 1} of '{signature.Name}'");
            bound.Add(positional[k]);
        }
        return new BoundArguments(tags, bound);
    }

    private static string Name(SieveArgKind kind) => kind switch
    {
        SieveArgKind.String => "string",
        SieveArgKind.StringList => "string list",
        _ => "number",
    };

    private static void Check(SieveArgument a, SieveArgKind kind, string what)
    {
        var ok = kind switch
        {
            SieveArgKind.Number => a is NumberArgument,
            SieveArgKind.String => a is StringListArgument { IsList: false },
            _ => a is StringListArgument,
        };
        if (!ok) throw new SieveSyntaxException(a.Line, $"{what} must be a {Name(kind)}");
    }
}
