using System.Security.Cryptography;
using System.Text;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// The thread id of a message (RFC 8474 THREADID, JMAP threadId): "T" and 24 hex digits of the
/// SHA-256 of the thread's root message-id, which is the first of References, else In-Reply-To
/// (RFC 5256 REFERENCES step 1), else the message's own Message-ID. A message with none of them
/// is its own thread, named after its content hash like its Email id. It lives here, below the
/// grains and the gateways, because the mailbox grain stores it with each message when the
/// message arrives, and IMAP and JMAP must compute the same value for messages stored without it.
/// </summary>
public static class ThreadIds
{
    /// <summary>The thread id of a message with <paramref name="headers"/> whose blob hash is <paramref name="blobHash"/>.</summary>
    public static string Of(HeaderList headers, byte[] blobHash)
    {
        var root = References(headers).FirstOrDefault() ?? MessageId(headers);
        return root is null ? OfContent(blobHash) : "T" + Hex(SHA256.HashData(Encoding.UTF8.GetBytes(root)));
    }

    /// <summary>The thread id of a message without any message-id: its content's.</summary>
    public static string OfContent(byte[] blobHash) => "T" + Hex(blobHash);

    /// <summary>
    /// RFC 5256 REFERENCES step 1: the message-ids of References; when it has none that parse,
    /// the first of In-Reply-To.
    /// </summary>
    public static IReadOnlyList<string> References(HeaderList headers)
    {
        var refs = MessageIds(headers, "References");
        if (refs.Count > 0) return refs;
        var reply = MessageIds(headers, "In-Reply-To");
        return reply.Count > 0 ? [reply[0]] : [];
    }

    /// <summary>The message's own Message-ID (without angle brackets), or null.</summary>
    public static string? MessageId(HeaderList headers) => MessageIds(headers, "Message-ID").FirstOrDefault();

    /// <summary>A header's value as it is in the message, unfolded; null when absent.</summary>
    public static string? RawValue(HeaderList headers, string field)
    {
        var i = headers.IndexOf(field);
        if (i < 0) return null;
        return Encoding.UTF8.GetString(headers[i].RawValue).Replace("\r\n", "").Replace("\n", "").Trim();
    }

    private static List<string> MessageIds(HeaderList headers, string field)
    {
        var value = RawValue(headers, field);
        var ids = new List<string>();
        if (string.IsNullOrWhiteSpace(value)) return ids;
        foreach (var id in MimeUtils.EnumerateReferences(value))
            if (!string.IsNullOrEmpty(id) && ids.Count < 1000) ids.Add(id);
        return ids;
    }

    private static string Hex(byte[] hash) => Convert.ToHexStringLower(hash.AsSpan(0, Math.Min(12, hash.Length)));
}
