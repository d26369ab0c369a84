using GrainMail.Contracts.Delivery;
using System.Text;
using GrainMail.Gateways.Common.Sasl;

namespace GrainMail.Gateways.Smtp.Protocol;

/// <summary>The outcome of parsing one line: a command, or the error reply for it.</summary>
public readonly record struct SmtpParseResult(SmtpCommand? Command, SmtpParseError? Error)
{
    public static implicit operator SmtpParseResult(SmtpCommand command) => new(command, null);

    public static implicit operator SmtpParseResult(SmtpParseError error) => new(null, error);
}

/// <summary>
/// Turns one SMTP command line (without its CRLF) into a typed <see cref="SmtpCommand"/>, or a typed
/// error carrying the reply (500, 501, 504, 553, 555 with RFC 3463 codes). Pure: no I/O, no state;
/// what a parameter means for the session (REQUIRETLS before TLS, AUTH on MX) is the session's to judge.
/// Only what EHLO offers parses: SIZE, 8BITMIME, SMTPUTF8, DSN, REQUIRETLS, AUTH.
/// </summary>
public static class SmtpCommandParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>RFC 3461 4.4: ENVID at most 100 characters; 4.2: ORCPT at most 500.</summary>
    public const int MaxEnvelopeId = 100;

    public const int MaxOriginalRecipient = 500;

    public static SmtpParseResult Parse(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf((byte)0) >= 0) return SmtpParseError.Syntax("Syntax error: NUL in command");
        string text;
        try
        {
            text = StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            return SmtpParseError.Syntax("Syntax error: invalid UTF-8 in command");
        }
        return Parse(text);
    }

    public static SmtpParseResult Parse(string line)
    {
        if (line.Contains('\0')) return SmtpParseError.Syntax("Syntax error: NUL in command");
        // Trailing blanks are common from hand-typed and old clients, and harmless.
        line = line.TrimEnd(' ', '\t');
        var space = line.IndexOf(' ');
        var verb = (space < 0 ? line : line[..space]).ToUpperInvariant();
        var args = space < 0 ? "" : line[(space + 1)..];
        return verb switch
        {
            "EHLO" => ParseHelo(args, extended: true),
            "HELO" => ParseHelo(args, extended: false),
            "MAIL" => ParseMail(args),
            "RCPT" => ParseRcpt(args),
            "DATA" => NoArguments(args, "DATA", new DataCommand()),
            "BDAT" => ParseBdat(args),
            "RSET" => NoArguments(args, "RSET", new RsetCommand()),
            "QUIT" => NoArguments(args, "QUIT", new QuitCommand()),
            "STARTTLS" => NoArguments(args, "STARTTLS", new StartTlsCommand()),
            "NOOP" => new NoopCommand(), // RFC 5321 4.1.1.9: a string argument is allowed and ignored
            "HELP" => new HelpCommand(args.Length == 0 ? null : args),
            "VRFY" => args.Trim().Length == 0 ? SmtpParseError.Arguments("Syntax: VRFY string") : new VrfyCommand(args.Trim()),
            "EXPN" => args.Trim().Length == 0 ? SmtpParseError.Arguments("Syntax: EXPN string") : new ExpnCommand(args.Trim()),
            "AUTH" => ParseAuth(args),
            _ => SmtpParseError.UnknownCommand,
        };
    }

    private static SmtpParseResult NoArguments(string args, string verb, SmtpCommand command) =>
        args.Length == 0 ? command : SmtpParseError.Arguments(verb + " takes no arguments");

    private static SmtpParseResult ParseHelo(string args, bool extended)
    {
        var name = args.Trim();
        var ok = name.Length > 0 && !name.Contains(' ')
            && (name[0] == '[' ? SmtpPathParser.IsAddressLiteral(name) : SmtpPathParser.IsDomain(name.TrimEnd('.'), allowUnderscore: true));
        return ok ? new HeloCommand(name, extended) : SmtpParseError.Arguments($"Syntax: {(extended ? "EHLO" : "HELO")} domain or address literal");
    }

    private static SmtpParseResult ParseBdat(string args)
    {
        var parts = args.Split(' ');
        if (parts.Length is 0 or > 2 || parts[0].Length is 0 or > 18 || !parts[0].All(char.IsAsciiDigit)
            || parts.Length == 2 && !parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase))
            return new SmtpParseError(new SmtpReply(501, "5.5.4", "Syntax: BDAT size [LAST]; closing"), CloseSession: true);
        return new BdatCommand(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts.Length == 2);
    }

    private static SmtpParseResult ParseAuth(string args)
    {
        var parts = args.Split(' ');
        if (args.Length == 0 || parts.Length > 2 || parts.Any(p => p.Length == 0))
            return SmtpParseError.Arguments("Syntax: AUTH mechanism [initial-response]");
        var mechanism = parts[0].ToUpperInvariant();
        if (!SaslDecoder.Mechanisms.Contains(mechanism))
            return new SmtpParseError(new SmtpReply(504, "5.5.4", "Unrecognized authentication mechanism"));
        return new AuthCommand(mechanism, parts.Length == 2 ? parts[1] : null);
    }

    private static SmtpParseResult ParseMail(string args)
    {
        if (!TrySplitPath(args, "FROM:", out var pathText)) return SmtpParseError.Arguments("Syntax: MAIL FROM:<address> [parameters]");
        var error = SmtpPathParser.TryReadPath(pathText, out var mailbox, out var end);
        if (error == SmtpPathParser.PathError.Syntax) return SmtpParseError.Arguments("Syntax: MAIL FROM:<address> [parameters]");
        if (error == SmtpPathParser.PathError.Mailbox) return new SmtpParseError(new SmtpReply(553, "5.1.7", "Bad sender address syntax"));
        if (ReadParameters(pathText[end..]) is not { } list) return SmtpParseError.Arguments("Syntax: MAIL FROM:<address> [parameters]");

        var p = MailParameters.None;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in list)
        {
            if (!seen.Add(key)) return SmtpParseError.Arguments("Duplicate parameter " + key);
            switch (key)
            {
                case "SIZE":
                    // RFC 1870: size-value = 1*20DIGIT; more than a long holds is more than any limit.
                    if (value is null || value.Length == 0 || !value.All(char.IsAsciiDigit)) return SmtpParseError.Arguments("Syntax: SIZE=octets");
                    p = p with { Size = value.Length > 18 ? long.MaxValue : long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };
                    break;
                case "BODY":
                    // RFC 6152 and RFC 3030: BINARYMIME needs CHUNKING and BINARYMIME both offered; it is not.
                    var body = value?.ToUpperInvariant() switch
                    {
                        "7BIT" => BodyType.SevenBit,
                        "8BITMIME" => BodyType.EightBitMime,
                        _ => (BodyType?)null,
                    };
                    if (body is null) return SmtpParseError.Parameter("BODY=" + value);
                    p = p with { Body = body };
                    break;
                case "SMTPUTF8":
                    if (value is not null) return SmtpParseError.Arguments("SMTPUTF8 takes no value");
                    p = p with { SmtpUtf8 = true };
                    break;
                case "RET":
                    var ret = value?.ToUpperInvariant() switch
                    {
                        "FULL" => DsnReturn.Full,
                        "HDRS" => DsnReturn.Headers,
                        _ => (DsnReturn?)null,
                    };
                    if (ret is null) return SmtpParseError.Arguments("Syntax: RET=FULL or RET=HDRS");
                    p = p with { Return = ret };
                    break;
                case "ENVID":
                    var envid = value is null ? null : XText.Decode(value);
                    if (envid is null || envid.Length is 0 or > MaxEnvelopeId) return SmtpParseError.Arguments("Syntax: ENVID=xtext (at most 100 characters)");
                    p = p with { EnvelopeId = envid };
                    break;
                case "REQUIRETLS":
                    if (value is not null) return SmtpParseError.Arguments("REQUIRETLS takes no value");
                    p = p with { RequireTls = true };
                    break;
                case "AUTH":
                    var auth = value is null ? null : XText.Decode(value);
                    if (auth is null) return SmtpParseError.Arguments("Syntax: AUTH=xtext");
                    p = p with { Auth = auth };
                    break;
                default:
                    return SmtpParseError.Parameter(key);
            }
        }
        // RFC 6531 3.7.4.1: a non-ASCII address in a transaction that did not say SMTPUTF8.
        if (mailbox is { IsAscii: false } && !p.SmtpUtf8) return new SmtpParseError(new SmtpReply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8"));
        return new MailCommand(new ReversePath(mailbox), p);
    }

    private static SmtpParseResult ParseRcpt(string args)
    {
        if (!TrySplitPath(args, "TO:", out var pathText)) return SmtpParseError.Arguments("Syntax: RCPT TO:<address> [parameters]");
        SmtpMailbox? mailbox = null;
        int end;
        // RFC 5321 4.1.1.3: "<Postmaster>" without a domain, in any case.
        if (pathText.StartsWith("<postmaster>", StringComparison.OrdinalIgnoreCase))
        {
            end = "<postmaster>".Length;
        }
        else
        {
            var error = SmtpPathParser.TryReadPath(pathText, out mailbox, out end);
            if (error == SmtpPathParser.PathError.Syntax) return SmtpParseError.Arguments("Syntax: RCPT TO:<address> [parameters]");
            if (error == SmtpPathParser.PathError.Mailbox || mailbox is null)
                return new SmtpParseError(new SmtpReply(501, "5.1.3", "Bad recipient address syntax"));
        }
        if (ReadParameters(pathText[end..]) is not { } list) return SmtpParseError.Arguments("Syntax: RCPT TO:<address> [parameters]");
        var p = RcptParameters.None;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in list)
        {
            if (!seen.Add(key)) return SmtpParseError.Arguments("Duplicate parameter " + key);
            switch (key)
            {
                case "NOTIFY":
                    if (ParseNotify(value) is not { } notify) return SmtpParseError.Arguments("Syntax: NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY");
                    p = p with { Notify = notify };
                    break;
                case "ORCPT":
                    // RFC 3461 4.2: addr-type ";" xtext; the type is an atom such as rfc822 or utf-8.
                    var semi = value?.IndexOf(';') ?? -1;
                    var type = semi > 0 ? value![..semi] : null;
                    var original = semi > 0 ? XText.Decode(value![(semi + 1)..]) : null;
                    if (type is null || original is null || original.Length == 0 || value!.Length > MaxOriginalRecipient
                        || !type.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                        return SmtpParseError.Arguments("Syntax: ORCPT=addr-type;xtext");
                    p = p with { OriginalRecipientType = type.ToLowerInvariant(), OriginalRecipient = original };
                    break;
                default:
                    return SmtpParseError.Parameter(key);
            }
        }
        return new RcptCommand(new ForwardPath(mailbox), p);
    }

    private static DsnNotify? ParseNotify(string? value)
    {
        if (value is null) return null;
        var result = DsnNotify.None;
        foreach (var item in value.ToUpperInvariant().Split(','))
        {
            var flag = item switch
            {
                "NEVER" => DsnNotify.Never,
                "SUCCESS" => DsnNotify.Success,
                "FAILURE" => DsnNotify.Failure,
                "DELAY" => DsnNotify.Delay,
                _ => DsnNotify.None,
            };
            if (flag == DsnNotify.None || result.HasFlag(flag)) return null;
            result |= flag;
        }
        // RFC 3461 4.1: NEVER stands alone.
        if (result.HasFlag(DsnNotify.Never) && result != DsnNotify.Never) return null;
        return result;
    }

    // "FROM:" or "TO:" in any case; a space after the colon is tolerated (RFC 5321 forbids it, many clients send it).
    private static bool TrySplitPath(string args, string prefix, out string rest)
    {
        rest = "";
        if (!args.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return false;
        rest = args[prefix.Length..].TrimStart(' ');
        return rest.Length > 0;
    }

    /// <summary>
    /// esmtp-param *(SP esmtp-param) after the path (RFC 5321 4.1.2): keyword = ALPHA/DIGIT *(ALPHA/DIGIT/"-"),
    /// value = 1*(%d33-60 / %d62-126, and UTF-8 under RFC 6531). Keywords upper-cased; null on bad syntax.
    /// </summary>
    private static List<(string Key, string? Value)>? ReadParameters(string rest)
    {
        var list = new List<(string, string?)>();
        if (rest.Length == 0) return list;
        if (rest[0] != ' ') return null;
        foreach (var item in rest.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = item.IndexOf('=');
            var key = eq < 0 ? item : item[..eq];
            if (key.Length == 0 || !char.IsAsciiLetterOrDigit(key[0]) || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')) return null;
            string? value = null;
            if (eq >= 0)
            {
                value = item[(eq + 1)..];
                if (value.Length == 0 || value.Any(c => c is < '!' or '=' or (> '~' and < (char)0x80) || char.IsControl(c))) return null;
            }
            list.Add((key.ToUpperInvariant(), value));
        }
        return list;
    }
}
