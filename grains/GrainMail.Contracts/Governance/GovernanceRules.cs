using System.Text.RegularExpressions;
using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Contracts.Governance;

/// <summary>What an approval rule looks at in one submission (taken from the envelope and the parsed message).</summary>
/// <param name="DepartmentPath">The sender account's department ids, root first (empty when unknown).</param>
public sealed record MessageFacts(
    string Account,
    IReadOnlyList<long> DepartmentPath,
    IReadOnlyList<string> Recipients,
    bool HasAttachments,
    long Size,
    string Subject,
    string Body);

/// <summary>Pure rule evaluation of outbound approval (4.2.14): no I/O, table-tested.</summary>
public static class ApprovalMatcher
{
    // A pattern is the administrator's; bound its running time so that one bad expression cannot stall submissions.
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>The first rule the message matches, or null.</summary>
    public static ApprovalRule? FirstMatch(IReadOnlyList<ApprovalRule> rules, MessageFacts facts) =>
        rules.FirstOrDefault(r => Matches(r, facts));

    public static bool Matches(ApprovalRule rule, MessageFacts m)
    {
        var domain = MailAddress.DomainOf(m.Account);
        // Whose mail: listed accounts or department subtrees; a rule naming neither applies to everyone.
        if (rule.Senders.Count + rule.Departments.Count > 0
            && !rule.Senders.Contains(m.Account, StringComparer.Ordinal)
            && !rule.Departments.Any(d => m.DepartmentPath.Contains(d)))
            return false;
        // To whom: a recipient outside the sender's domain, or in a named domain.
        if (rule.OutsideDomain && !m.Recipients.Any(r => MailAddress.DomainOf(r) != domain)) return false;
        if (rule.ToDomains.Count > 0 && !m.Recipients.Any(r => rule.ToDomains.Contains(MailAddress.DomainOf(r), StringComparer.Ordinal))) return false;
        // What: each condition set must hold; keywords and patterns together count as one ("mentions any of these").
        if (rule.HasAttachments && !m.HasAttachments) return false;
        if (rule.SizeOver is long over && m.Size <= over) return false;
        if (rule.Keywords.Count + rule.Patterns.Count > 0 && !MentionsAny(rule, m)) return false;
        return true;
    }

    private static bool MentionsAny(ApprovalRule rule, MessageFacts m)
    {
        foreach (var k in rule.Keywords)
        {
            if (k.Length == 0) continue;
            if (m.Subject.Contains(k, StringComparison.OrdinalIgnoreCase) || m.Body.Contains(k, StringComparison.OrdinalIgnoreCase)) return true;
        }
        foreach (var p in rule.Patterns)
        {
            try
            {
                var re = new Regex(p, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, PatternTimeout);
                if (re.IsMatch(m.Subject) || re.IsMatch(m.Body)) return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // Too slow to decide: hold rather than let the message past a rule that may apply.
                return true;
            }
        }
        return false;
    }

    /// <summary>Null when every pattern compiles, else the reason (checked when a rule is added).</summary>
    public static string? InvalidPattern(IEnumerable<string> patterns)
    {
        foreach (var p in patterns)
        {
            try
            {
                _ = new Regex(p, RegexOptions.None, PatternTimeout);
            }
            catch (ArgumentException e)
            {
                return $"pattern {p}: {e.Message}";
            }
        }
        return null;
    }
}

/// <summary>The seed's monitoring rules (4.2.7), pure.</summary>
public static class MonitoringRules
{
    /// <param name="masters">Existing relations: monitored → master.</param>
    public static MonitoringStatus Check(IReadOnlyDictionary<string, string> masters, string monitored, string master)
    {
        if (monitored == master) return MonitoringStatus.SelfMonitoring;
        if (masters.ContainsKey(monitored)) return MonitoringStatus.AlreadyHasMaster;
        // A cycle would close if, walking up from the new master through its own masters, we
        // reach the monitored account (a→b, b→c: c→a closes c→a→b→c).
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var at = master; masters.TryGetValue(at, out var up); at = up)
        {
            if (up == monitored) return MonitoringStatus.Cycle;
            if (!seen.Add(up)) break;
        }
        return MonitoringStatus.Ok;
    }
}

/// <summary>Retention (issue 17): which days apply to a folder, and whether a message is due.</summary>
public static class RetentionRules
{
    /// <summary>Junk and Trash are emptied after this many days unless the domain says otherwise.</summary>
    public const int SpecialFolderDefaultDays = 30;

    /// <summary>Days for a folder: its name, else its special use's default, else '*'; 0 = keep forever.</summary>
    public static int DaysFor(IReadOnlyDictionary<string, int> policy, string folder, SpecialUse use)
    {
        if (policy.TryGetValue(folder, out var days)) return days;
        if (use is SpecialUse.Junk or SpecialUse.Trash)
        {
            var name = use == SpecialUse.Junk ? "Junk" : "Trash";
            return policy.TryGetValue(name, out var d) ? d : SpecialFolderDefaultDays;
        }
        return policy.TryGetValue("*", out var all) ? all : 0;
    }

    /// <summary>Due when it has been in its folder (RFC 8514 SAVEDATE, else its arrival) for the folder's days.</summary>
    public static bool IsDue(DateTimeOffset? saveDate, DateTimeOffset internalDate, int days, DateTimeOffset now) =>
        days > 0 && (saveDate ?? internalDate) <= now - TimeSpan.FromDays(days);
}
