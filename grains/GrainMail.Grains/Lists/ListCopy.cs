using System.Text;
using GrainMail.Contracts.Lists;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Grains.Lists;

/// <summary>The copy of a post that a list's members get: the original with the list's header fields on top.</summary>
internal static class ListCopy
{
    /// <summary>The header section's fields (name, unfolded value); empty when it cannot be parsed.</summary>
    public static List<(string Name, string Value)> HeaderFields(byte[] raw)
    {
        try
        {
            using var stream = new MemoryStream(raw, writable: false);
            return HeaderList.Load(stream).Select(h => (h.Field, h.Value)).ToList();
        }
        catch (FormatException)
        {
            return [];
        }
    }

    /// <summary>
    /// The original's bytes after its own Return-Path (the copy has a new envelope sender, the
    /// list's owner address, RFC 5321 3.9.2), below: Return-Path, List-Id (RFC 2919), List-Post,
    /// List-Unsubscribe and List-Owner (RFC 2369), X-Loop (this list's mark for loop detection)
    /// and Precedence: list (what auto-responders look at before they answer).
    /// </summary>
    public static byte[] Build(byte[] raw, string list, string owner, string? displayName)
    {
        var phrase = displayName is null ? "" : Phrase(displayName) + " ";
        var prefix = new StringBuilder()
            .Append("Return-Path: <").Append(owner).Append(">\r\n")
            .Append("List-Id: ").Append(phrase).Append('<').Append(ListStreams.ListId(list)).Append(">\r\n")
            .Append("List-Post: <mailto:").Append(list).Append(">\r\n")
            // Membership is administered (accounts, departments that follow the organisation):
            // an unsubscribe request goes to the people who run the list, not to a robot.
            .Append("List-Unsubscribe: <mailto:").Append(owner).Append("?subject=unsubscribe>\r\n")
            .Append("List-Owner: <mailto:").Append(owner).Append(">\r\n")
            .Append(ListLoop.LoopHeader).Append(": ").Append(list).Append("\r\n")
            .Append("Precedence: list\r\n");
        var head = Encoding.UTF8.GetBytes(prefix.ToString());
        var skip = LeadingReturnPath(raw);
        var copy = new byte[head.Length + raw.Length - skip];
        head.CopyTo(copy, 0);
        raw.AsSpan(skip).CopyTo(copy.AsSpan(head.Length));
        return copy;
    }

    /// <summary>
    /// A display name as an RFC 5322 phrase: a quoted string when it is printable ASCII (the
    /// domain refuses quotes and angle brackets in it), else RFC 2047 encoded words.
    /// </summary>
    private static string Phrase(string name) =>
        name.All(c => c is >= ' ' and <= '~')
            ? "\"" + name.Replace("\\", "\\\\", StringComparison.Ordinal) + "\""
            : Encoding.ASCII.GetString(Rfc2047.EncodePhrase(Encoding.UTF8, name));

    /// <summary>The length of a Return-Path field (with its folded lines) at the very top; 0 when there is none.</summary>
    private static int LeadingReturnPath(byte[] raw)
    {
        const string name = "Return-Path:";
        if (raw.Length < name.Length || !Encoding.ASCII.GetString(raw, 0, name.Length).Equals(name, StringComparison.OrdinalIgnoreCase)) return 0;
        var i = 0;
        while (true)
        {
            var lf = Array.IndexOf(raw, (byte)'\n', i);
            if (lf < 0) return 0;
            i = lf + 1;
            // A continuation line starts with white space (RFC 5322 2.2.3).
            if (i >= raw.Length || (raw[i] != ' ' && raw[i] != '\t')) return i;
        }
    }
}

/// <summary>The mail that tells a list's moderators a post is held, and how to decide by replying.</summary>
internal static class ModerationNotice
{
    private const string Base32 = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>
    /// 80 random bits in 16 lower-case base32 characters: it must survive as part of a local part,
    /// which the server lower-cases, and leave room for the list's name within 64 octets.
    /// </summary>
    public static string NewToken()
    {
        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        var chars = new char[16];
        for (var i = 0; i < chars.Length; i++) chars[i] = Base32[bytes[i] & 31];
        return new string(chars);
    }

    public static byte[] Build(string list, string owner, IReadOnlyList<string> moderators, Guid id, string? sender, string? subject,
        string token, byte[] original)
    {
        var name = GrainMail.Contracts.MailAddress.LocalPartOf(list);
        var domain = GrainMail.Contracts.MailAddress.DomainOf(list);
        var approve = $"{name}+{ListStreams.ApproveTag}{token}@{domain}";
        var reject = $"{name}+{ListStreams.RejectTag}{token}@{domain}";
        var m = new MimeMessage();
        m.From.Add(new MailboxAddress($"{list} moderation", owner));
        foreach (var moderator in moderators) m.To.Add(MailboxAddress.Parse(moderator));
        // Replying approves: the Reply-To carries the token (a reply's subject may be rewritten by the client).
        m.ReplyTo.Add(MailboxAddress.Parse(approve));
        m.Subject = $"Held for {list}: {subject ?? "(no subject)"}";
        m.Headers.Add("Auto-Submitted", "auto-generated");
        m.Headers.Add("X-GrainMail-Held", id.ToString());
        var text = new TextPart("plain")
        {
            Text = $"A post to {list} from {sender ?? "<>"} is held until a moderator decides.\r\n\r\n"
                + $"To approve it, reply to this message (it goes to {approve}).\r\n"
                + $"To reject it, send any message to {reject}.\r\n"
                + $"Or use the admin API: POST /api/v1/domains/{domain}/lists/{name}/held/{id}/approve (or /reject).\r\n\r\n"
                + "The held message is attached.\r\n",
        };
        var body = new Multipart("mixed") { text };
        try
        {
            using var stream = new MemoryStream(original, writable: false);
            body.Add(new MessagePart { Message = MimeMessage.Load(stream) });
        }
        catch (FormatException)
        {
            // Unparseable originals are still held; the notice goes without the attachment.
        }
        m.Body = body;
        m.Date = DateTimeOffset.UtcNow;
        m.MessageId = MimeUtils.GenerateMessageId(domain);
        using var output = new MemoryStream();
        m.WriteTo(FormatOptions.Default.Clone(), output);
        return output.ToArray();
    }
}
