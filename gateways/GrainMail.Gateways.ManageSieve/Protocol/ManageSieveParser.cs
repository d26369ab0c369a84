using System.Buffers;
using System.Text;

namespace GrainMail.Gateways.ManageSieve.Protocol;

public enum ParseStatus
{
    /// <summary>The buffer holds no whole command yet: read more.</summary>
    Incomplete,
    Command,
    /// <summary>Unreadable input; the command carries the reply, and <see cref="ParseResult.Skip"/> octets of literal still to discard.</summary>
    Error,
}

/// <summary>What one call of <see cref="ManageSieveParser.TryParse"/> found, and how many octets it used.</summary>
public readonly record struct ParseResult(ParseStatus Status, ManageSieveCommand? Command, long Consumed, long Skip = 0);

/// <summary>
/// Reads one ManageSieve command (RFC 5804 4: atoms, numbers, quoted strings and literals
/// <c>{n+}</c> or <c>{n}</c>, ending in CRLF) out of a byte buffer. Pure: the session feeds it
/// what arrived; a command split across reads is <see cref="ParseStatus.Incomplete"/> until all
/// of it, literals included, is there. Literals larger than the limit are refused without being
/// buffered (the session skips their octets).
/// </summary>
public static class ManageSieveParser
{
    public const int MaxLine = 8 * 1024;
    public const int MaxTokens = 8;

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Parses a client's answer to a SASL challenge (RFC 5804 2.1): one string, quoted or literal, then CRLF.</summary>
    public static ParseResult TryParseSaslResponse(ReadOnlySequence<byte> buffer)
    {
        var prefix = "SASL "u8.ToArray();
        var r = TryParse(prefix.Concat(buffer.ToArray()).ToArray(), MaxLine);
        if (r.Status == ParseStatus.Incomplete) return r;
        return r with { Consumed = r.Consumed < 0 ? -1 : Math.Max(0, r.Consumed - prefix.Length) };
    }

    public static ParseResult TryParse(ReadOnlySequence<byte> buffer, long maxLiteral)
    {
        var bytes = buffer.IsSingleSegment ? buffer.FirstSpan : buffer.ToArray();
        return TryParse(bytes, maxLiteral);
    }

    public static ParseResult TryParse(ReadOnlySpan<byte> b, long maxLiteral)
    {
        var tokens = new List<ManageSieveToken>();
        var i = 0;
        // Octets of literals read so far: the line limit counts the rest.
        var literalBytes = 0;
        while (true)
        {
            // Separators between tokens: spaces.
            while (i < b.Length && b[i] == ' ') i++;
            if (i >= b.Length) return Incomplete(b.Length - literalBytes);
            var c = b[i];
            if (c == '\r' || c == '\n')
            {
                if (c == '\r')
                {
                    if (i + 1 >= b.Length) return Incomplete(b.Length - literalBytes);
                    if (b[i + 1] != '\n') return Error(tokens, "NO \"Bare CR in command\"", EndOfLine(b, i));
                    i += 2;
                }
                else i++;
                return Build(tokens, i);
            }
            if (tokens.Count >= MaxTokens) return Error(tokens, "NO \"Too many arguments\"", EndOfLine(b, i));
            if (c == '"')
            {
                var s = new List<byte>();
                var j = i + 1;
                var closed = false;
                for (; j < b.Length; j++)
                {
                    var d = b[j];
                    if (d == '\\')
                    {
                        if (j + 1 >= b.Length) return Incomplete(b.Length);
                        var e = b[++j];
                        if (e is not ((byte)'"' or (byte)'\\')) return Error(tokens, "NO \"Bad escape in quoted string\"", EndOfLine(b, j));
                        s.Add(e);
                        continue;
                    }
                    if (d == '"') { closed = true; break; }
                    if (d is (byte)'\r' or (byte)'\n' or 0) return Error(tokens, "NO \"Line break or NUL in quoted string\"", EndOfLine(b, j));
                    s.Add(d);
                    if (s.Count > MaxLine) return Error(tokens, "NO \"Quoted string too long\"", EndOfLine(b, j));
                }
                if (!closed) return j > MaxLine ? Error(tokens, "NO \"Line too long\"", -1) : Incomplete(b.Length);
                tokens.Add(new ManageSieveToken(true, null, [.. s]));
                i = j + 1;
                continue;
            }
            if (c == '{')
            {
                var j = i + 1;
                long n = 0;
                var digits = 0;
                while (j < b.Length && b[j] >= '0' && b[j] <= '9' && digits < 12) { n = n * 10 + (b[j] - '0'); j++; digits++; }
                if (j >= b.Length) return Incomplete(b.Length);
                if (digits == 0) return Error(tokens, "NO \"Bad literal\"", EndOfLine(b, j));
                if (b[j] == '+') j++;
                if (j >= b.Length) return Incomplete(b.Length);
                if (b[j] != '}') return Error(tokens, "NO \"Bad literal\"", EndOfLine(b, j));
                j++;
                if (j + 1 >= b.Length) return Incomplete(b.Length);
                if (b[j] == '\r') j++;
                if (b[j] != '\n') return Error(tokens, "NO \"Literal must be followed by CRLF\"", EndOfLine(b, j));
                j++;
                if (n > maxLiteral)
                {
                    // Refused without buffering: the session discards the octets, then the rest of the line.
                    var verb = tokens.Count > 0 && !tokens[0].IsString ? tokens[0].Atom! : "";
                    return new ParseResult(ParseStatus.Error,
                        new ManageSieveSyntaxError(verb, $"NO (QUOTA/MAXSIZE) \"Literal of {n} octets exceeds the limit of {maxLiteral}\""), j, n);
                }
                if (b.Length - j < n) return new ParseResult(ParseStatus.Incomplete, null, 0);
                tokens.Add(new ManageSieveToken(true, null, b.Slice(j, (int)n).ToArray()));
                i = j + (int)n;
                literalBytes += (int)n;
                continue;
            }
            if (IsAtomChar(c))
            {
                var j = i;
                while (j < b.Length && IsAtomChar(b[j])) j++;
                if (j >= b.Length) return j - i > MaxLine ? Error(tokens, "NO \"Line too long\"", -1) : Incomplete(b.Length);
                tokens.Add(new ManageSieveToken(false, Encoding.ASCII.GetString(b[i..j]), null));
                i = j;
                continue;
            }
            return Error(tokens, $"NO \"Unexpected character 0x{c:x2}\"", EndOfLine(b, i));
        }
    }

    private static bool IsAtomChar(byte c) => c > 0x20 && c < 0x7f && c is not ((byte)'"' or (byte)'{' or (byte)'}' or (byte)'(' or (byte)')' or (byte)'\\');

    /// <summary>Octets through the end of the current line, or -1 (the session drops the buffer) when none is there yet.</summary>
    private static long EndOfLine(ReadOnlySpan<byte> b, int from)
    {
        var n = b[from..].IndexOf((byte)'\n');
        return n < 0 ? -1 : from + n + 1;
    }

    private static ParseResult Incomplete(int seen) =>
        seen > MaxLine * 2 + 64 ? new ParseResult(ParseStatus.Error, new ManageSieveSyntaxError("", "BYE \"Line too long\""), -1) : new(ParseStatus.Incomplete, null, 0);

    private static ParseResult Error(List<ManageSieveToken> tokens, string reply, long consumed)
    {
        var verb = tokens.Count > 0 && !tokens[0].IsString ? tokens[0].Atom!.ToUpperInvariant() : "";
        return new ParseResult(ParseStatus.Error, new ManageSieveSyntaxError(verb, reply), consumed);
    }

    private static ParseResult Build(List<ManageSieveToken> tokens, int consumed)
    {
        if (tokens.Count == 0) return new(ParseStatus.Error, new ManageSieveSyntaxError("", "NO \"Empty command\""), consumed);
        if (tokens[0].IsString) return new(ParseStatus.Error, new ManageSieveSyntaxError("", "NO \"A command starts with its name\""), consumed);
        var verb = tokens[0].Atom!.ToUpperInvariant();
        var args = tokens.Skip(1).ToList();
        return new(ParseStatus.Command, Command(verb, args), consumed);
    }

    private static ManageSieveCommand Command(string verb, List<ManageSieveToken> args)
    {
        string? Str(int k) => k < args.Count && args[k].IsString ? Utf8(args[k].Bytes!) : null;
        ManageSieveCommand Wrong(string usage) => new ManageSieveSyntaxError(verb, $"NO \"Syntax: {usage}\"");
        bool Count(int n) => args.Count == n;
        switch (verb)
        {
            case "AUTHENTICATE":
                if (args.Count is < 1 or > 2 || Str(0) is not { } mech || (args.Count == 2 && Str(1) is null)) return Wrong("AUTHENTICATE \"mechanism\" [\"initial response\"]");
                return new AuthenticateCommand(mech.ToUpperInvariant(), args.Count == 2 ? Str(1) : null);
            case "STARTTLS": return Count(0) ? new StartTlsCommand() : Wrong("STARTTLS");
            case "LOGOUT": return Count(0) ? new LogoutCommand() : Wrong("LOGOUT");
            case "CAPABILITY": return Count(0) ? new CapabilityCommand() : Wrong("CAPABILITY");
            case "LISTSCRIPTS": return Count(0) ? new ListScriptsCommand() : Wrong("LISTSCRIPTS");
            case "UNAUTHENTICATE": return Count(0) ? new UnauthenticateCommand() : Wrong("UNAUTHENTICATE");
            case "HAVESPACE":
                if (!Count(2) || Str(0) is not { } hn || args[1].IsString || !long.TryParse(args[1].Atom, out var size) || size < 0)
                    return Wrong("HAVESPACE \"name\" size");
                return new HaveSpaceCommand(hn, size);
            case "PUTSCRIPT":
                if (!Count(2) || Str(0) is not { } pn || !args[1].IsString) return Wrong("PUTSCRIPT \"name\" {size+} script");
                return new PutScriptCommand(pn, args[1].Bytes!);
            case "CHECKSCRIPT":
                if (!Count(1) || !args[0].IsString) return Wrong("CHECKSCRIPT {size+} script");
                return new CheckScriptCommand(args[0].Bytes!);
            case "SETACTIVE": return Count(1) && Str(0) is { } sn ? new SetActiveCommand(sn) : Wrong("SETACTIVE \"name\"");
            case "GETSCRIPT": return Count(1) && Str(0) is { } gn ? new GetScriptCommand(gn) : Wrong("GETSCRIPT \"name\"");
            case "DELETESCRIPT": return Count(1) && Str(0) is { } dn ? new DeleteScriptCommand(dn) : Wrong("DELETESCRIPT \"name\"");
            case "RENAMESCRIPT":
                return Count(2) && Str(0) is { } from && Str(1) is { } to ? new RenameScriptCommand(from, to) : Wrong("RENAMESCRIPT \"old\" \"new\"");
            case "SASL":
                return Count(1) && Str(0) is { } answer ? new SaslResponseCommand(answer) : Wrong("a string");
            case "NOOP":
                if (args.Count > 1 || (args.Count == 1 && Str(0) is null)) return Wrong("NOOP [\"tag\"]");
                return new NoopCommand(args.Count == 1 ? Str(0) : null);
        }
        return new ManageSieveSyntaxError(verb, "NO \"Unknown command\"");
    }

    /// <summary>Strings are UTF-8 (RFC 5804 4); invalid octets become U+FFFD here and are refused where it matters.</summary>
    private static string Utf8(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.UTF8.GetString(bytes);
        }
    }

    /// <summary>Decodes a script body strictly; null when it is not UTF-8 (RFC 5228 2.2).</summary>
    public static string? ScriptText(byte[] bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>A string for a response: quoted when it can be, a literal otherwise (RFC 5804 4).</summary>
    public static string Quote(string s)
    {
        if (s.Length <= 1024 && !s.Any(ch => ch is '\r' or '\n' or '\0'))
            return "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        return "{" + Encoding.UTF8.GetByteCount(s) + "}\r\n" + s;
    }
}
