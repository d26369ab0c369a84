using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Sieve.Syntax;
using GrainMail.Sieve.Validation;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Sieve;

/// <summary>
/// Runs a compiled script against one message (RFC 5228 2.10: actions are collected, then
/// carried out by the caller; the implicit keep stands unless an action cancels it). Pure: the
/// message, envelope, clock, folders and the user's other scripts come in <see cref="SieveContext"/>.
/// A run-time error (an include that is missing, too many redirects, conflicting actions, the
/// step or time budget spent) ends the run with <see cref="SieveResult.Error"/>; the caller then
/// files the message into INBOX (RFC 5228 2.10.6).
/// </summary>
public sealed class SieveInterpreter
{
    private const string InternalFlags = "\u0000flags";

    private readonly SieveContext _ctx;
    private readonly SieveLimits _limits;
    private readonly List<SieveAction> _actions = [];
    private readonly Dictionary<string, string> _globals = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _includedOnce = new(StringComparer.Ordinal);
    private readonly List<string> _includeStack = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private List<string> _captures = [];
    private bool _implicitKeep = true;
    private bool _stopped;
    private int _steps;
    private int _redirects;

    private SieveInterpreter(SieveContext ctx)
    {
        _ctx = ctx;
        _limits = ctx.Limits;
    }

    public static SieveResult Run(CompiledSieve script, SieveContext context, string scriptName = "")
    {
        var run = new SieveInterpreter(context);
        try
        {
            run._includeStack.Add(scriptName);
            run.Execute(script.Script.Commands, new Frame(script.Required));
            return new SieveResult(run.Finish(), null, run._steps);
        }
        catch (SieveSyntaxException e)
        {
            return new SieveResult([], e.Error, run._steps);
        }
    }

    private sealed class Frame(IReadOnlySet<string> required)
    {
        public IReadOnlySet<string> Required { get; } = required;
        public Dictionary<string, string> Locals { get; } = new(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> GlobalNames { get; } = new(StringComparer.OrdinalIgnoreCase);
        public bool Variables => Required.Contains("variables");
        public bool Returned;
    }

    private List<SieveAction> Finish()
    {
        var actions = new List<SieveAction>(_actions);
        if (_implicitKeep) actions.Add(new KeepAction(Flags(null, null), true, 0));
        // RFC 5429 2.1 and RFC 5230 4.7: reject does not go with delivering actions or a vacation reply.
        if (actions.OfType<RejectAction>().FirstOrDefault() is { } reject
            && actions.Any(a => a is KeepAction or FileIntoAction or RedirectAction or VacationAction))
            throw new SieveSyntaxException(reject.Line, $"'{RejectName(reject)}' cannot be combined with keep, fileinto, redirect or vacation");
        if (actions.OfType<RejectAction>().Skip(1).FirstOrDefault() is { } second)
            throw new SieveSyntaxException(second.Line, "'reject' or 'ereject' used twice");
        return actions;
    }

    private static string RejectName(RejectAction r) => r.Extended ? "ereject" : "reject";

    private void Step(int line)
    {
        if (++_steps > _limits.MaxSteps) throw new SieveSyntaxException(line, $"the script took more than {_limits.MaxSteps} steps");
        if ((_steps & 63) == 0 && _clock.Elapsed > _limits.MaxRunTime) throw new SieveSyntaxException(line, "the script ran too long");
    }

    private void Add(SieveAction action)
    {
        if (_actions.Count >= _limits.MaxActions) throw new SieveSyntaxException(action.Line, $"more than {_limits.MaxActions} actions");
        _actions.Add(action);
    }

    // ---- commands ------------------------------------------------------------------------------

    private void Execute(IReadOnlyList<SieveCommand> commands, Frame frame)
    {
        var chainTaken = true;
        foreach (var c in commands)
        {
            if (_stopped || frame.Returned) return;
            Step(c.Line);
            switch (c.Name)
            {
                case "require":
                    continue;
                case "if":
                    chainTaken = Evaluate(c.Tests[0], frame);
                    if (chainTaken) Execute(c.Block!, frame);
                    continue;
                case "elsif":
                    if (chainTaken) continue;
                    chainTaken = Evaluate(c.Tests[0], frame);
                    if (chainTaken) Execute(c.Block!, frame);
                    continue;
                case "else":
                    if (!chainTaken) Execute(c.Block!, frame);
                    chainTaken = true;
                    continue;
            }
            Action(c, SieveSignatures.Bind(SieveSignatures.Commands[c.Name], c.Arguments, c.Line, null), frame);
        }
    }

    private void Action(SieveCommand c, BoundArguments a, Frame f)
    {
        switch (c.Name)
        {
            case "stop":
                _stopped = true;
                return;
            case "return":
                f.Returned = true;
                return;
            case "keep":
                Add(new KeepAction(Flags(a, f), false, c.Line));
                _implicitKeep = false;
                return;
            case "discard":
                _implicitKeep = false;
                return;
            case "fileinto":
                {
                    var folder = Expand(f, a.StringAt(0)!.Single);
                    if (folder.Length == 0) throw new SieveSyntaxException(c.Line, "'fileinto' with an empty folder name");
                    Add(new FileIntoAction(folder, Flags(a, f), a.Has("create"), c.Line));
                    if (!a.Has("copy")) _implicitKeep = false;
                    return;
                }
            case "redirect":
                {
                    var to = Expand(f, a.StringAt(0)!.Single).Trim();
                    if (!SieveAddresses.IsValidMailbox(to)) throw new SieveSyntaxException(c.Line, $"'redirect' to \"{to}\", which is not an address");
                    if (!a.Has("copy")) _implicitKeep = false;
                    // RFC 5228 4.2: the same address twice is one redirect.
                    if (_actions.OfType<RedirectAction>().Any(r => string.Equals(r.Address, to, StringComparison.OrdinalIgnoreCase))) return;
                    if (++_redirects > _limits.MaxRedirects) throw new SieveSyntaxException(c.Line, $"more than {_limits.MaxRedirects} redirects");
                    Add(new RedirectAction(to, c.Line));
                    return;
                }
            case "reject" or "ereject":
                Add(new RejectAction(Expand(f, a.StringAt(0)!.Single), c.Line, Extended: c.Name == "ereject"));
                _implicitKeep = false;
                return;
            case "vacation":
                Vacation(c, a, f);
                return;
            case "setflag" or "addflag" or "removeflag":
                {
                    var name = a.StringAt(0) is { } v ? Expand(f, v.Single) : InternalFlags;
                    var given = SplitFlags(a.StringAt(1)!.Values.Select(x => Expand(f, x)));
                    var current = SplitFlags([Get(f, name)]);
                    var next = c.Name switch
                    {
                        "setflag" => given,
                        "addflag" => current.Concat(given).Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
                        _ => current.Where(x => !given.Contains(x, StringComparer.OrdinalIgnoreCase)).ToList(),
                    };
                    Set(f, name, string.Join(' ', next));
                    return;
                }
            case "set":
                Set(f, a.StringAt(0)!.Single, Modify(Expand(f, a.StringAt(1)!.Single), a));
                return;
            case "global":
                foreach (var n in a.StringAt(0)!.Values) f.GlobalNames.Add(n);
                return;
            case "include":
                Include(c, a, f);
                return;
        }
        throw new SieveSyntaxException(c.Line, $"unknown command '{c.Name}'");
    }

    private void Include(SieveCommand c, BoundArguments a, Frame f)
    {
        var name = Expand(f, a.StringAt(0)!.Single);
        if (a.Has("once") && _includedOnce.Contains(name)) return;
        // RFC 6609 3.2: a script that includes itself, directly or not, is an error.
        if (_includeStack.Contains(name, StringComparer.Ordinal)) throw new SieveSyntaxException(c.Line, $"\"{name}\" includes itself");
        if (_includeStack.Count > _limits.MaxIncludeDepth) throw new SieveSyntaxException(c.Line, $"includes nested deeper than {_limits.MaxIncludeDepth}");
        var script = _ctx.Include(name);
        if (script is null)
        {
            if (a.Has("optional")) return;
            throw new SieveSyntaxException(c.Line, $"included script \"{name}\" does not exist");
        }
        _includedOnce.Add(name);
        _includeStack.Add(name);
        Execute(script.Script.Commands, new Frame(script.Required));
        _includeStack.RemoveAt(_includeStack.Count - 1);
    }

    private void Vacation(SieveCommand c, BoundArguments a, Frame f)
    {
        if (_actions.OfType<VacationAction>().Any()) throw new SieveSyntaxException(c.Line, "'vacation' used twice");
        var reason = Expand(f, a.StringAt(0)!.Single);
        var subject = a.TagString("subject") is { } s ? Expand(f, s) : null;
        var from = a.TagString("from") is { } fr ? Expand(f, fr) : null;
        var addresses = (a.TagList("addresses") ?? []).Select(x => Expand(f, x)).ToList();
        // RFC 5230 4.1: at least a day; more than a few months is not a vacation any more. RFC 6131 2:
        // :seconds may go below a day, down to 0 (a reply to every message, still never to automatic mail).
        var period = a.TagNumber("seconds") is { } seconds
            ? TimeSpan.FromSeconds(Math.Clamp(seconds, 0, 365L * 86400))
            : TimeSpan.FromDays(Math.Clamp(a.TagNumber("days") ?? 7, 1, 365));
        var handle = a.TagString("handle") is { } h ? Expand(f, h)
            : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{reason}\u0000{subject}\u0000{from}\u0000{a.Has("mime")}")))[..32];
        Add(new VacationAction(reason, subject, from, addresses, period, handle, a.Has("mime"), c.Line));
    }

    private IReadOnlyList<string> Flags(BoundArguments? a, Frame? f)
    {
        if (a?.TagList("flags") is { } given) return SplitFlags(given.Select(x => Expand(f!, x)));
        return SplitFlags([_globals.GetValueOrDefault(InternalFlags) ?? ""]);
    }

    private static List<string> SplitFlags(IEnumerable<string> values) =>
        values.SelectMany(v => v.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    // ---- variables (RFC 5229) ----------------------------------------------------------------

    private string Get(Frame f, string name)
    {
        // The imap4flags internal variable is one for the whole run, includes included.
        if (name == InternalFlags) return _globals.GetValueOrDefault(InternalFlags) ?? "";
        if (name.StartsWith("global.", StringComparison.OrdinalIgnoreCase)) return _globals.GetValueOrDefault(name[7..]) ?? "";
        return (f.GlobalNames.Contains(name) ? _globals : f.Locals).GetValueOrDefault(name) ?? "";
    }

    private void Set(Frame f, string name, string value)
    {
        if (value.Length > _limits.MaxVariableLength) value = value[.._limits.MaxVariableLength];
        if (name == InternalFlags) _globals[InternalFlags] = value;
        else if (name.StartsWith("global.", StringComparison.OrdinalIgnoreCase)) _globals[name[7..]] = value;
        else (f.GlobalNames.Contains(name) ? _globals : f.Locals)[name] = value;
    }

    private static string Modify(string value, BoundArguments a)
    {
        // RFC 5229 4.1: applied from the highest precedence down.
        if (a.Has("lower")) value = value.ToLowerInvariant();
        if (a.Has("upper")) value = value.ToUpperInvariant();
        if (a.Has("lowerfirst") && value.Length > 0) value = char.ToLowerInvariant(value[0]) + value[1..];
        if (a.Has("upperfirst") && value.Length > 0) value = char.ToUpperInvariant(value[0]) + value[1..];
        if (a.Has("quotewildcard")) value = value.Replace("\\", "\\\\").Replace("*", "\\*").Replace("?", "\\?");
        if (a.Has("length")) value = value.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return value;
    }

    /// <summary>Replaces <c>${name}</c> and <c>${N}</c> (RFC 5229 3); text that is no reference stays as it is.</summary>
    private string Expand(Frame f, string s)
    {
        if (!f.Variables || !s.Contains("${", StringComparison.Ordinal)) return s;
        var b = new StringBuilder();
        var i = 0;
        while (i < s.Length)
        {
            var start = s.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0) { b.Append(s, i, s.Length - i); break; }
            b.Append(s, i, start - i);
            var end = s.IndexOf('}', start + 2);
            var name = end < 0 ? null : s[(start + 2)..end];
            if (name is not null && IsReference(name))
            {
                if (char.IsAsciiDigit(name[0]))
                {
                    var n = int.TryParse(name, out var k) ? k : -1;
                    b.Append(n >= 0 && n < _captures.Count ? _captures[n] : "");
                }
                else b.Append(Get(f, name));
                i = end + 1;
            }
            else
            {
                b.Append("${");
                i = start + 2;
            }
            if (b.Length > _limits.MaxVariableLength * 4) throw new SieveSyntaxException(0, "expanded string too long");
        }
        return b.ToString();
    }

    private static bool IsReference(string name)
    {
        if (name.Length == 0) return false;
        if (char.IsAsciiDigit(name[0])) return name.All(char.IsAsciiDigit);
        return name.Split('.').All(part => part.Length > 0 && (char.IsAsciiLetter(part[0]) || part[0] == '_') && part.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_'));
    }

    // ---- tests ---------------------------------------------------------------------------------

    private bool Evaluate(SieveTest t, Frame f)
    {
        Step(t.Line);
        switch (t.Name)
        {
            case "true": return true;
            case "false": return false;
            case "not": return !Evaluate(t.Tests[0], f);
            case "allof": return t.Tests.All(x => Evaluate(x, f));
            case "anyof": return t.Tests.Any(x => Evaluate(x, f));
        }
        var a = SieveSignatures.Bind(SieveSignatures.Tests[t.Name], t.Arguments, t.Line, null);
        switch (t.Name)
        {
            case "size":
                return a.Has("over") ? _ctx.Size > a.NumberAt(0) : _ctx.Size < a.NumberAt(0);
            case "exists":
                return a.StringAt(0)!.Values.All(h => _ctx.Message.Headers.Contains(Expand(f, h)));
            case "header":
                return Match(HeaderValues(a, Names(a, 0, f)), Keys(a, 1, f), a, f);
            case "address":
                {
                    var part = AddressPart(a);
                    var values = HeaderFields(a, Names(a, 0, f)).SelectMany(SieveAddresses.Parse).Select(x => SieveAddresses.Part(x, part));
                    return Match(values.OfType<string>().ToList(), Keys(a, 1, f), a, f);
                }
            case "envelope":
                {
                    var part = AddressPart(a);
                    var values = new List<string>();
                    foreach (var which in Names(a, 0, f))
                    {
                        var address = which.ToLowerInvariant() switch
                        {
                            // RFC 5228 5.4: the null reverse-path compares as "".
                            "from" => _ctx.Envelope.From ?? "",
                            "to" => _ctx.Envelope.To,
                            _ => null,
                        };
                        if (address is null) continue;
                        if (address.Length == 0) { if (part is "all" or "localpart" or "domain" or "user") values.Add(""); continue; }
                        if (SieveAddresses.Part(address, part) is { } v) values.Add(v);
                    }
                    return Match(values, Keys(a, 1, f), a, f);
                }
            case "body":
                return Match(BodyTexts(a), Keys(a, 0, f), a, f);
            case "date":
                {
                    var part = Expand(f, a.StringAt(1)!.Single);
                    var values = new List<string>();
                    foreach (var v in HeaderFields(a, [Expand(f, a.StringAt(0)!.Single)]))
                    {
                        // RFC 5260 4.1: a Received field's date follows its last ';'.
                        var text = v.LastIndexOf(';') is var semi and >= 0 ? v[(semi + 1)..] : v;
                        if (!DateUtils.TryParse(text.Trim(), out DateTimeOffset d)) continue;
                        values.Add(SieveDates.Part(InZone(d, a, f), part));
                    }
                    return Match(values, Keys(a, 2, f), a, f);
                }
            case "currentdate":
                return Match([SieveDates.Part(InZone(_ctx.Now, a, f), Expand(f, a.StringAt(0)!.Single))], Keys(a, 1, f), a, f);
            case "string":
                {
                    var values = a.StringAt(0)!.Values.Select(x => Expand(f, x)).ToList();
                    // RFC 5229 5: empty strings are not counted by :count.
                    if (a.MatchType == "count") values = values.Where(v => v.Length > 0).ToList();
                    return Match(values, Keys(a, 1, f), a, f);
                }
            case "hasflag":
                {
                    var sources = a.StringAt(0) is { } vars ? vars.Values.Select(v => Get(f, v)) : [Get(f, InternalFlags)];
                    var flags = SplitFlags(sources);
                    var keys = SplitFlags(Keys(a, 1, f));
                    return Match(flags, keys, a, f);
                }
            case "mailboxexists":
                return a.StringAt(0)!.Values.All(m => _ctx.MailboxExists(Expand(f, m)));
        }
        throw new SieveSyntaxException(t.Line, $"unknown test '{t.Name}'");
    }

    private DateTimeOffset InZone(DateTimeOffset d, BoundArguments a, Frame f)
    {
        if (a.Has("originalzone")) return d;
        if (a.TagString("zone") is { } z)
        {
            if (!SieveDates.TryParseZone(Expand(f, z), out var offset)) return d.ToOffset(_ctx.LocalZone);
            return d.ToOffset(offset);
        }
        return d.ToOffset(_ctx.LocalZone);
    }

    private static string AddressPart(BoundArguments a) =>
        a.Tags.Keys.FirstOrDefault(k => k is "all" or "localpart" or "domain" or "user" or "detail") ?? "all";

    private List<string> Names(BoundArguments a, int i, Frame f) => a.StringAt(i)!.Values.Select(x => Expand(f, x)).ToList();

    private List<string> Keys(BoundArguments a, int i, Frame f) => a.StringAt(i)!.Values.Select(x => Expand(f, x)).ToList();

    /// <summary>Every field of the named headers, in message order, narrowed by :index/:last (RFC 5260 6).</summary>
    private List<string> HeaderFields(BoundArguments a, IReadOnlyList<string> names)
    {
        var fields = new List<string>();
        foreach (var name in names)
        {
            var all = _ctx.Message.Headers.Where(h => h.Field.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value.Trim()).ToList();
            if (a.TagNumber("index") is { } index)
            {
                var k = (int)Math.Min(index, int.MaxValue);
                if (k > all.Count) continue;
                fields.Add(a.Has("last") ? all[all.Count - k] : all[k - 1]);
            }
            else fields.AddRange(all);
        }
        return fields;
    }

    private List<string> HeaderValues(BoundArguments a, IReadOnlyList<string> names) => HeaderFields(a, names);

    /// <summary>RFC 5173 5: :raw the body undecoded, :content the decoded parts of those types, :text (default) the text parts.</summary>
    private List<string> BodyTexts(BoundArguments a)
    {
        var message = _ctx.Message;
        if (a.Has("raw"))
        {
            using var s = new MemoryStream();
            message.Body?.WriteTo(FormatOptions.Default, s, contentOnly: true);
            var bytes = s.ToArray();
            return [Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, _limits.MaxBodyBytes))];
        }
        var types = a.TagList("content");
        var texts = new List<string>();
        var budget = _limits.MaxBodyBytes;
        foreach (var part in message.BodyParts.OfType<MimePart>())
        {
            var ct = part.ContentType;
            var wanted = types is null
                ? part is TextPart
                : types.Any(t => t.Contains('/') ? ct.IsMimeType(t[..t.IndexOf('/')], t[(t.IndexOf('/') + 1)..]) : t.Length == 0 || ct.MediaType.Equals(t, StringComparison.OrdinalIgnoreCase));
            if (!wanted || part is not TextPart text) continue;
            var value = text.Text ?? "";
            if (value.Length > budget) value = value[..budget];
            budget -= value.Length;
            texts.Add(value);
            if (budget <= 0) break;
        }
        return texts;
    }

    /// <summary>The match types of RFC 5228 2.7.1 and RFC 5231 under the test's comparator.</summary>
    private bool Match(IReadOnlyList<string> values, IReadOnlyList<string> keys, BoundArguments a, Frame f)
    {
        var comparator = a.TagString("comparator") ?? SieveComparators.AsciiCasemap;
        switch (a.MatchType)
        {
            case "count":
                {
                    var op = a.TagString("count")!;
                    var count = values.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return keys.Any(k => SieveComparators.Relation(op, SieveComparators.Compare(comparator, count, k)));
                }
            case "value":
                {
                    var op = a.TagString("value")!;
                    return values.Any(v => keys.Any(k => SieveComparators.Relation(op, SieveComparators.Compare(comparator, v, k))));
                }
            case "contains":
                return values.Any(v => keys.Any(k => SieveComparators.Contains(comparator, v, k)));
            case "regex":
                {
                    var captures = f.Variables ? new List<string>() : null;
                    foreach (var k in keys)
                    {
                        // A key made by variables is only known now; one that does not compile matches nothing.
                        var (regex, _) = SieveRegex.Compile(k, comparator);
                        if (regex is null) continue;
                        foreach (var v in values)
                        {
                            Step(0);
                            if (!SieveRegex.Matches(regex, v, captures)) continue;
                            if (captures is not null) _captures = [.. captures];
                            return true;
                        }
                    }
                    return false;
                }
            case "matches":
                {
                    var captures = f.Variables ? new List<string>() : null;
                    foreach (var v in values)
                    {
                        foreach (var k in keys)
                        {
                            Step(0);
                            if (!SieveComparators.Matches(comparator, v, k, captures)) continue;
                            if (captures is not null) _captures = [.. captures];
                            return true;
                        }
                    }
                    return false;
                }
            default:
                return values.Any(v => keys.Any(k => SieveComparators.AreEqual(comparator, v, k)));
        }
    }
}
