using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>One folder as a state token records it.</summary>
public sealed record FolderMark(int FolderId, long UidValidity, long HighestModSeq, long UidNext, string NameHash);

/// <summary>
/// The account-wide JMAP state (RFC 8620 1.6.3, 5.2) derived from the mailbox's modseqs, not kept
/// anywhere: for every folder its number, UIDVALIDITY, HIGHESTMODSEQ, UIDNEXT and a short hash of
/// its name and subscription. An IMAP STORE, EXPUNGE or APPEND raises a folder's modseq and so
/// changes the state; /changes reads back from the marks what changed in each folder since.
/// One token serves Mailbox, Email and Thread. Pure code.
/// </summary>
public static class MailState
{
    public static string Of(IEnumerable<FolderInfo> folders) => Of(folders.Select(Mark));

    /// <summary>
    /// The token of a list of marks: the current state (from the folders), or an intermediate one that
    /// /changes hands out with hasMoreChanges (some folders at an earlier modseq and UIDNEXT).
    /// </summary>
    public static string Of(IEnumerable<FolderMark> marks) =>
        string.Join('_', marks.OrderBy(m => m.FolderId).Select(Format));

    public static FolderMark Mark(FolderInfo f) =>
        new(f.FolderId, f.UidValidity, f.HighestModSeq, f.UidNext, NameHash(f.Name, f.Subscribed));

    private static string Format(FolderMark m) =>
        string.Create(CultureInfo.InvariantCulture, $"{m.FolderId}.{m.UidValidity}.{m.HighestModSeq}.{m.UidNext}.{m.NameHash}");

    /// <summary>The folders of a state token, or null when it is not one of ours.</summary>
    public static IReadOnlyList<FolderMark>? Parse(string? state)
    {
        if (state is null) return null;
        if (state.Length == 0) return [];
        var marks = new List<FolderMark>();
        foreach (var part in state.Split('_'))
        {
            var f = part.Split('.');
            if (f.Length != 5
                || !int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                || !long.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var uv)
                || !long.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                || !long.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var un)
                || f[4].Length != 8)
                return null;
            marks.Add(new FolderMark(id, uv, ms, un, f[4]));
        }
        return marks;
    }

    private static string NameHash(string name, bool subscribed) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name + (subscribed ? "\0s" : "\0u"))).AsSpan(0, 4));
}
