namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// What a folder name may not be, said once for the mailbox grain (which refuses such a name) and for
/// the protocols (which tell the client why). Anything else is a name: atom-specials, quotes, spaces,
/// brackets and backslashes included, as Dovecot allows printable names; '/' separates levels.
/// </summary>
public static class MailboxNameRules
{
    public const char Separator = '/';
    public const int MaxLength = 512;

    /// <summary>Why <paramref name="name"/> cannot be a folder name, or null when it can.</summary>
    public static string? Problem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "A mailbox name cannot be empty";
        if (name.Length > MaxLength) return $"A mailbox name is at most {MaxLength} characters";
        if (name[0] == Separator || name[^1] == Separator || name.Contains("//", StringComparison.Ordinal))
            return "A mailbox name cannot start or end with the hierarchy separator \"/\" or have an empty level";
        foreach (var c in name)
        {
            if (char.IsControl(c)) return "A mailbox name cannot contain control characters";
            // A name LIST could not tell from a pattern (RFC 3501 6.3.8, RFC 9051 6.3.9): LIST "" "a*b" would
            // match "a*b" and "axb" alike, and no pattern could ask for it alone.
            if (c is '*' or '%') return "A mailbox name cannot contain % or *: LIST reads them as wildcards";
        }
        return null;
    }
}
