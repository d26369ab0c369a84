using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Grains.Mailboxes;

/// <summary>Folder naming rules: '/' separates levels; "INBOX" is matched case-insensitively.</summary>
public static class FolderNames
{
    public const char Separator = MailboxNameRules.Separator;
    public const int MaxLength = MailboxNameRules.MaxLength;

    public static readonly IReadOnlyList<(string Name, SpecialUse Use)> Defaults =
    [
        ("INBOX", SpecialUse.Inbox),
        ("Sent", SpecialUse.Sent),
        ("Drafts", SpecialUse.Drafts),
        ("Trash", SpecialUse.Trash),
        ("Junk", SpecialUse.Junk),
        ("Archive", SpecialUse.Archive),
    ];

    /// <summary>The canonical form of a folder name, or null when it is not allowed.</summary>
    public static string? Normalize(string? name)
    {
        if (name is null || MailboxNameRules.Problem(name) is not null) return null;
        if (name.Equals("INBOX", StringComparison.OrdinalIgnoreCase)) return "INBOX";
        if (name.StartsWith("INBOX/", StringComparison.OrdinalIgnoreCase)) return "INBOX" + name[5..];
        return name;
    }

    /// <summary>The names of the superiors of a folder, outermost first ("a", "a/b" for "a/b/c").</summary>
    public static IEnumerable<string> Parents(string name)
    {
        for (var i = name.IndexOf(Separator); i > 0; i = name.IndexOf(Separator, i + 1)) yield return name[..i];
    }

    public static bool IsInside(string name, string parent) =>
        name.Length > parent.Length + 1 && name.StartsWith(parent, StringComparison.Ordinal) && name[parent.Length] == Separator;
}
