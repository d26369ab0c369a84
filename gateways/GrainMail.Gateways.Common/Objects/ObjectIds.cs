using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Sorting;
using MimeKit;

namespace GrainMail.Gateways.Common.Objects;

/// <summary>
/// RFC 8474 OBJECTID identifiers, derived rather than stored so that every gateway and (later)
/// JMAP compute the same ones from the same data:
/// <list type="bullet">
/// <item>EMAILID: from the message's content hash (its blob): the same in every folder it is
/// copied or moved to, and immutable. Two deliveries of byte-identical messages share one, which
/// RFC 8474 5.1 allows (the server may give the same id to identical messages).</item>
/// <item>THREADID: from the thread's root message-id (the first of References, else
/// In-Reply-To, else the message's own Message-ID; a message without any is its own thread).
/// JMAP threads must use <see cref="ThreadId"/> to agree.</item>
/// <item>MAILBOXID: from the account, the folder's number in the account and its UIDVALIDITY, which
/// RENAME keeps and a re-created folder does not (RFC 8474 4: kept across rename, never reused).
/// Folders provisioned together share one UIDVALIDITY, so the folder number is part of it.</item>
/// </list>
/// All are 1 letter and 24 hex digits: within RFC 8474's objectid syntax (letters, digits, '-', '_').
/// </summary>
public static class ObjectIds
{
    public static string EmailId(BlobRef blob) => "M" + Convert.ToHexStringLower(blob.Hash.AsSpan(0, Math.Min(12, blob.Hash.Length)));

    /// <summary>The message's thread id (<see cref="ThreadIds"/>, which the mailbox stores with each message it can).</summary>
    public static string ThreadId(HeaderList headers, BlobRef blob) => ThreadIds.Of(headers, blob.Hash);

    /// <summary>The thread id stored with the message, else computed from its headers.</summary>
    public static string ThreadId(MessageMeta meta, HeaderList headers) => meta.ThreadId ?? ThreadId(headers, meta.Blob);

    public static string MailboxId(string account, FolderInfo folder) =>
        "F" + Hash(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{account.ToLowerInvariant()}\0{folder.FolderId}\0{folder.UidValidity}"));

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 12));
}
