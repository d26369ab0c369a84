using System.Reflection;
using GrainMail.Contracts.Accounts;

namespace GrainMail.Grains.Accounts.Passwords;

/// <summary>
/// Judges a password against a domain's <see cref="SecurityPolicy"/>: pure code, no I/O (the
/// common-password list is loaded once from the assembly). Each broken rule is one sentence the
/// user can act on; history is the account's to check (it holds the hashes).
/// </summary>
public static class PasswordJudge
{
    private static readonly Lazy<HashSet<string>> Common = new(LoadCommon);

    public static IReadOnlyList<string> Violations(SecurityPolicy policy, string password, string localPart, string? displayName)
    {
        var v = new List<string>();
        if (password.Length < policy.MinLength) v.Add($"Use at least {policy.MinLength} characters");
        if (password.Length > SecurityPolicy.MaxLength) v.Add($"Use at most {SecurityPolicy.MaxLength} characters");
        var classes = Classes(password);
        if (classes < policy.MinClasses)
            v.Add($"Mix at least {policy.MinClasses} kinds of characters (lower case, upper case, digits, others); this has {classes}");
        if (policy.ForbidAccountName && ContainsName(password, localPart, displayName))
            v.Add("Do not use the account's name in the password");
        if (policy.ForbidCommon && IsCommon(password)) v.Add("This password is on the list of common passwords");
        return v;
    }

    public static int Classes(string password)
    {
        bool lower = false, upper = false, digit = false, other = false;
        foreach (var c in password)
        {
            if (char.IsLower(c)) lower = true;
            else if (char.IsUpper(c)) upper = true;
            else if (char.IsDigit(c)) digit = true;
            else other = true;
        }
        return (lower ? 1 : 0) + (upper ? 1 : 0) + (digit ? 1 : 0) + (other ? 1 : 0);
    }

    /// <summary>
    /// The local part (and each word of the display name) of three or more characters, anywhere in
    /// the password, ignoring case; a local part like "li.wei" counts by its pieces too.
    /// </summary>
    public static bool ContainsName(string password, string localPart, string? displayName)
    {
        var names = new List<string> { localPart };
        names.AddRange(localPart.Split(['.', '-', '_', '+'], StringSplitOptions.RemoveEmptyEntries));
        if (displayName is not null) names.AddRange(displayName.Split([' ', '.', '-', '_'], StringSplitOptions.RemoveEmptyEntries));
        return names.Any(n => n.Length >= 3 && password.Contains(n, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>On the list as typed, or once trailing digits and symbols are taken off ("Password1!" is "password").</summary>
    public static bool IsCommon(string password)
    {
        var lower = password.ToLowerInvariant();
        if (Common.Value.Contains(lower)) return true;
        var stem = lower.TrimEnd("0123456789!@#$%^&*()_-+=.?~ ".ToCharArray());
        return stem.Length >= 4 && Common.Value.Contains(stem);
    }

    private static HashSet<string> LoadCommon()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("GrainMail.Grains.common-passwords.txt")
            ?? throw new InvalidOperationException("common-passwords.txt is not embedded");
        using var reader = new StreamReader(stream);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0) set.Add(line.Trim().ToLowerInvariant());
        }
        return set;
    }
}
