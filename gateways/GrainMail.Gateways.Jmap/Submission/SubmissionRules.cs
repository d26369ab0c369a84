using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Lists;
using GrainMail.Gateways.Smtp.Session;
using MimeKit;

namespace GrainMail.Gateways.Jmap.Submission;

/// <summary>An Envelope address (RFC 8621 7: Address): the email and its SMTP parameters (always null here: no extensions are offered).</summary>
public sealed record EnvelopeAddress(string Email);

/// <summary>The SMTP envelope of a submission (RFC 8621 7: Envelope).</summary>
public sealed record JmapEnvelope(EnvelopeAddress MailFrom, IReadOnlyList<EnvelopeAddress> RcptTo)
{
    public JsonObject ToJson() => new()
    {
        ["mailFrom"] = Address(MailFrom),
        ["rcptTo"] = new JsonArray(RcptTo.Select(a => (JsonNode)Address(a)).ToArray()),
    };

    private static JsonObject Address(EnvelopeAddress a) => new() { ["email"] = a.Email, ["parameters"] = null };
}

/// <summary>
/// A message's From and Sender fields: how many of each there are, and their addresses, each field parsed once by
/// <see cref="SubmissionRules.Addresses"/> (null when one field of the kind cannot be read as an address list).
/// </summary>
public sealed record Originators(int FromFields, IReadOnlyList<string>? From, int SenderFields, IReadOnlyList<string>? Sender)
{
    public static Originators Of(MimeMessage message)
    {
        int froms = 0, senders = 0;
        foreach (var h in message.Headers)
        {
            if (h.Id == HeaderId.From) froms++;
            else if (h.Id == HeaderId.Sender) senders++;
        }
        return new Originators(froms, SubmissionRules.Addresses(message, HeaderId.From), senders, SubmissionRules.Addresses(message, HeaderId.Sender));
    }
}

/// <summary>
/// The pure parts of EmailSubmission/set (RFC 8621 7.5): the envelope a client gives or the one
/// derived from the Email's header fields, and the SetErrors that the submission path's refusals
/// (the SMTP submission's own replies) become. No I/O.
/// </summary>
public static class SubmissionRules
{
    /// <summary>A SetError object (RFC 8620 5.3) with extra properties.</summary>
    public static JsonObject Error(string type, string? description = null, params (string Key, JsonNode? Value)[] extra)
    {
        var e = new JsonObject { ["type"] = type };
        if (description is not null) e["description"] = description;
        foreach (var (k, v) in extra) e[k] = v;
        return e;
    }

    /// <summary>
    /// RFC 8621 7.5, envelope null: mailFrom is the Sender field's address, else the From field's;
    /// several addresses in that field, or the field twice, is refused (the RFC's SHOULD). rcptTo is
    /// the deduplicated addresses of To, Cc and Bcc, without parameters.
    /// </summary>
    public static (JmapEnvelope? Envelope, JsonObject? Error) Derive(MimeMessage message) => Derive(message, Originators.Of(message));

    /// <summary>
    /// As <see cref="Derive(MimeMessage)"/>, from From and Sender as already parsed: the submission parses them once, for
    /// this and for the sender ownership rule, so the derived MAIL FROM is the very address that rule checks.
    /// An unreadable field names no address: refused like an empty one (exactly one is needed).
    /// </summary>
    public static (JmapEnvelope? Envelope, JsonObject? Error) Derive(MimeMessage message, Originators originators)
    {
        string mailFrom;
        if (originators.SenderFields > 0)
        {
            if (originators.SenderFields > 1 || originators.Sender is not [var sender]) return (null, InvalidEmail("sender", "The Sender field must hold exactly one address"));
            mailFrom = sender;
        }
        else
        {
            if (originators.FromFields != 1 || originators.From is not [var from]) return (null, InvalidEmail("from", "The From field must hold exactly one address (or give an envelope)"));
            mailFrom = from;
        }
        var rcpt = new List<EnvelopeAddress>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in message.To.Mailboxes.Concat(message.Cc.Mailboxes).Concat(message.Bcc.Mailboxes))
            if (seen.Add(m.Address)) rcpt.Add(new EnvelopeAddress(m.Address));
        return (new JmapEnvelope(new EnvelopeAddress(mailFrom), rcpt), null);
    }

    /// <summary>
    /// Every address of every field of that kind (MimeKit's Sender property keeps only the first), each field parsed once;
    /// null when one of them cannot be parsed as an address list (SmtpSession's FromAddresses yields null for it).
    /// </summary>
    public static List<string>? Addresses(MimeMessage message, HeaderId field)
    {
        var list = new List<string>();
        foreach (var h in message.Headers.Where(h => h.Id == field))
        {
            if (!InternetAddressList.TryParse(h.Value, out var parsed)) return null;
            list.AddRange(parsed.Mailboxes.Select(m => m.Address));
        }
        return list;
    }

    /// <summary>
    /// A mail loop (SMTP's 554 5.4.6) as a SetError. RFC 8621 7.5 defines none for a loop; invalidEmail fits: the refusal is
    /// of the Email itself — header fields it carries (<c>properties</c> names them as Email properties, RFC 8621 4.1.3:
    /// "header:X-Loop", "header:List-Id", "header:Received") — and is permanent, as the intake's other content refusals are.
    /// forbiddenToSend is about the user's permission "right now", which a loop is not, and would invite a retry.
    /// </summary>
    public static JsonObject LoopRefusal(MailLoop loop) =>
        Error("invalidEmail", "554 5.4.6 " + loop.Description, ("properties", new JsonArray("header:" + loop.Field)));

    /// <summary>
    /// A message text SMTP DATA would refuse (a NUL, a header section over the limits or without a field;
    /// <see cref="Mail.JmapMessageText"/>): invalidEmail, since the Email's content is at fault, as Email/import answers for it. Not tooLarge: that SetError's maxSize is the whole message's limit,
    /// which this message may well be within.
    /// </summary>
    public static JsonObject TextRefusal(string description) => Error("invalidEmail", description);

    /// <summary>The "envelope" a client gave: its shape, and no SMTP parameters (submissionExtensions is empty).</summary>
    public static (JmapEnvelope? Envelope, JsonObject? Error) Parse(JsonNode node)
    {
        static EnvelopeAddress? Address(JsonNode? n)
        {
            if (n is not JsonObject o || o["email"] is not JsonValue ev || ev.GetValueKind() != JsonValueKind.String) return null;
            if (o.Any(kv => kv.Key is not ("email" or "parameters"))) return null;
            if (o["parameters"] is JsonObject p && p.Count > 0) return null;
            if (o["parameters"] is not null and not JsonObject) return null;
            return new EnvelopeAddress(ev.GetValue<string>());
        }
        var bad = Error("invalidProperties", "envelope is { mailFrom: Address, rcptTo: Address[] }; no SMTP parameters are supported", ("properties", new JsonArray("envelope")));
        if (node is not JsonObject env || Address(env["mailFrom"]) is not { } from || env["rcptTo"] is not JsonArray to) return (null, bad);
        var rcpt = new List<EnvelopeAddress>();
        foreach (var item in to)
        {
            if (Address(item) is not { } a) return (null, bad);
            rcpt.Add(a);
        }
        return (new JmapEnvelope(from, rcpt), null);
    }

    public static JsonObject InvalidEmail(string property, string description) =>
        Error("invalidEmail", description, ("properties", new JsonArray(property)));

    /// <summary>What the recipient checks of SMTP submission (RCPT) answered, as one SetError; null when all were accepted.</summary>
    /// <remarks>
    /// Policy refusals (5.7.x: may not send outside the domain, a list's posting rule) and the hourly budgets
    /// (450 4.7.1) are forbiddenToSend; the recipient domain's size limit (552 5.3.4) is tooLarge; unknown,
    /// disabled, full or malformed addresses are invalidRecipients, listing them. The whole submission is
    /// refused in each case, so the user can correct it and send once, to everybody.
    /// </remarks>
    public static JsonObject? RecipientRefusal(IReadOnlyList<(string Address, RcptVerdict Verdict)> refused, long messageSize)
    {
        if (refused.Count == 0) return null;
        if (refused.FirstOrDefault(r => r.Verdict.Reply.Enhanced.StartsWith("5.7.", StringComparison.Ordinal) || r.Verdict.Reply.Enhanced == "4.7.1") is { Address: not null } policy)
            return Error("forbiddenToSend", $"{policy.Address}: {policy.Verdict.Reply}");
        if (refused.FirstOrDefault(r => r.Verdict.Reply.Enhanced == "5.3.4") is { Address: not null } big)
            return Error("tooLarge", $"{big.Address}: {big.Verdict.Reply}", ("maxSize", LimitIn(big.Verdict.Reply.Text) ?? Math.Max(0, messageSize - 1)));
        var description = string.Join("; ", refused.Select(r => $"{r.Address}: {r.Verdict.Reply}"));
        return Error("invalidRecipients", description, ("invalidRecipients", new JsonArray(refused.Select(r => (JsonNode)r.Address).ToArray())));
    }

    /// <summary>The byte count in "… the limit of N bytes …".</summary>
    private static long? LimitIn(string text)
    {
        var i = text.IndexOf("limit of ", StringComparison.Ordinal);
        if (i < 0) return null;
        var digits = new string(text[(i + 9)..].TakeWhile(char.IsAsciiDigit).ToArray());
        return long.TryParse(digits, out var n) ? n : null;
    }

    /// <summary>
    /// A refusal of the intake itself (virus scan: "554 5.7.1 …"; scanner unavailable: "451 4.7.1 …"): a
    /// permanent one is invalidEmail (the content is refused), a temporary one forbiddenToSend "right now".
    /// </summary>
    public static JsonObject IntakeRefusal(string reply) =>
        reply.StartsWith('5') ? Error("invalidEmail", reply) : Error("forbiddenToSend", "Temporarily refused, try again later: " + reply);

    /// <summary>
    /// The message without its Bcc fields (RFC 5322 3.6.3: blind recipients are not shown to the others;
    /// RFC 6409 8.1 lets the submission server take them out). Only the header section changes; the
    /// rest stays byte for byte, so a signature over the body still holds.
    /// </summary>
    public static byte[] WithoutBcc(byte[] raw)
    {
        var end = HeaderEnd(raw);
        var output = new MemoryStream(raw.Length);
        var i = 0;
        while (i < end)
        {
            // One field: its first line and the folded lines that follow (starting with space or tab).
            var start = i;
            do
            {
                var lf = Array.IndexOf(raw, (byte)'\n', i, end - i);
                i = lf < 0 ? end : lf + 1;
            }
            while (i < end && raw[i] is (byte)' ' or (byte)'\t');
            var colon = Array.IndexOf(raw, (byte)':', start, i - start);
            var name = colon < 0 ? "" : Encoding.ASCII.GetString(raw, start, colon - start).Trim();
            if (!name.Equals("Bcc", StringComparison.OrdinalIgnoreCase)) output.Write(raw, start, i - start);
        }
        output.Write(raw, end, raw.Length - end);
        return output.ToArray();
    }

    /// <summary>Where the header section ends: the offset of the empty line (or the end when there is none).</summary>
    private static int HeaderEnd(byte[] raw)
    {
        if (raw.Length > 0 && raw[0] == '\n') return 0;
        if (raw.Length > 1 && raw[0] == '\r' && raw[1] == '\n') return 0;
        for (var i = 0; i + 1 < raw.Length; i++)
        {
            if (raw[i] != '\n') continue;
            if (raw[i + 1] == '\n') return i + 1;
            if (raw[i + 1] == '\r' && i + 2 < raw.Length && raw[i + 2] == '\n') return i + 1;
        }
        return raw.Length;
    }
}
