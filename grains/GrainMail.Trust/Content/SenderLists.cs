using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Results;
using GrainMail.Trust.Scoring;
using GrainMail.Trust.Spf;

namespace GrainMail.Trust.Content;

/// <summary>Whose list an entry is on: the recipient's own, or their domain's.</summary>
public enum ListScope { User, Domain }

/// <summary>One allow or block entry: an address (local@domain) or a domain (which covers its subdomains).</summary>
public sealed record SenderListEntry(ListScope Scope, bool Allow, string Entry);

/// <summary>
/// Allow and block lists as evidence. A block entry matches the From: address or the envelope sender
/// (or their domains) and weighs 20 (refused under the default policy; a domain may reweigh
/// USER_BLOCK/DOMAIN_BLOCK to Junk or quarantine instead). An allow entry matches the From: address only,
/// and only when that From: is authenticated: DMARC passed, or the domain publishes no DMARC record and
/// an aligned DKIM signature or SPF passed. A From: that fails DMARC is never let through by an allow
/// entry (ALLOW_UNVERIFIED, weight 0, notes why): spoofing an allowed sender must not work.
/// </summary>
public static class SenderLists
{
    public static readonly IReadOnlyDictionary<string, double> Defaults = new Dictionary<string, double>(StringComparer.Ordinal)
    {
        ["USER_ALLOW"] = -20,
        ["DOMAIN_ALLOW"] = -20,
        ["USER_BLOCK"] = 20,
        ["DOMAIN_BLOCK"] = 20,
        ["ALLOW_UNVERIFIED"] = 0,
    };

    /// <summary>An entry as stored: lower-case, an address or a domain name, or null when it is neither.</summary>
    public static string? Normalize(string? entry)
    {
        var e = (entry ?? "").Trim().TrimEnd('.').ToLowerInvariant();
        if (e.Length is 0 or > 320 || e.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or ',' or ';')) return null;
        var at = e.LastIndexOf('@');
        var domain = at >= 0 ? e[(at + 1)..] : e;
        if (at == 0 || domain.Length == 0 || !domain.Contains('.') || domain.Split('.').Any(l => l.Length == 0)) return null;
        return e;
    }

    /// <summary>The symbols the lists give (block first: a blocked sender is blocked even if also allowed elsewhere).</summary>
    public static IReadOnlyList<Symbol> Evaluate(IReadOnlyList<SenderListEntry> entries, string? fromAddress, string? envelopeSender, InboundVerdicts verdicts)
    {
        var symbols = new List<Symbol>();
        if (entries.Count == 0) return symbols;
        var from = fromAddress?.ToLowerInvariant();
        var sender = envelopeSender?.ToLowerInvariant();
        foreach (var scope in new[] { ListScope.User, ListScope.Domain })
        {
            var prefix = scope == ListScope.User ? "USER" : "DOMAIN";
            if (entries.FirstOrDefault(e => e.Scope == scope && !e.Allow && (Matches(e.Entry, from) || Matches(e.Entry, sender))) is { } block)
                symbols.Add(new Symbol(prefix + "_BLOCK", Defaults[prefix + "_BLOCK"], block.Entry));
        }
        if (symbols.Count > 0) return symbols;
        foreach (var scope in new[] { ListScope.User, ListScope.Domain })
        {
            var prefix = scope == ListScope.User ? "USER" : "DOMAIN";
            if (entries.FirstOrDefault(e => e.Scope == scope && e.Allow && Matches(e.Entry, from)) is not { } allow) continue;
            if (FromAuthenticated(from, verdicts, out var why)) symbols.Add(new Symbol(prefix + "_ALLOW", Defaults[prefix + "_ALLOW"], allow.Entry));
            else symbols.Add(new Symbol("ALLOW_UNVERIFIED", Defaults["ALLOW_UNVERIFIED"], $"{allow.Entry}: {why}"));
            break;
        }
        return symbols;
    }

    public static bool Matches(string entry, string? address)
    {
        if (string.IsNullOrEmpty(address)) return false;
        if (entry.Contains('@')) return string.Equals(entry, address, StringComparison.Ordinal);
        var at = address.LastIndexOf('@');
        var domain = at >= 0 ? address[(at + 1)..] : address;
        return domain == entry || domain.EndsWith("." + entry, StringComparison.Ordinal);
    }

    /// <summary>Whether the From: domain is the one that sent: DMARC pass, or (no DMARC record) an aligned DKIM or SPF pass.</summary>
    public static bool FromAuthenticated(string? from, InboundVerdicts verdicts, out string why)
    {
        why = "";
        var at = from?.LastIndexOf('@') ?? -1;
        if (from is null || at < 0)
        {
            why = "no single From: address";
            return false;
        }
        var domain = from[(at + 1)..];
        switch (verdicts.Dmarc?.Result)
        {
            case DmarcResult.Pass:
                return true;
            case DmarcResult.Fail or DmarcResult.TempError or DmarcResult.PermError:
                why = "DMARC " + verdicts.Dmarc.Result.ToString().ToLowerInvariant();
                return false;
        }
        if (verdicts.Dkim.Any(d => d.Result == DkimResult.Pass && Aligned(d.Domain, domain))) return true;
        if (verdicts.MailFrom is { Verdict.Result: SpfResult.Pass } spf && Aligned(spf.Domain, domain)) return true;
        why = "From: not authenticated (no DMARC record, no aligned DKIM or SPF pass)";
        return false;
    }

    private static bool Aligned(string a, string b)
    {
        a = a.TrimEnd('.').ToLowerInvariant();
        b = b.TrimEnd('.').ToLowerInvariant();
        return a == b || a.EndsWith("." + b, StringComparison.Ordinal) || b.EndsWith("." + a, StringComparison.Ordinal);
    }
}
