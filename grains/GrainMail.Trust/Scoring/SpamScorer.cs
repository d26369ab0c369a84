using System.Globalization;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Trust.Blocklists;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Inbound;
using GrainMail.Trust.Spf;

namespace GrainMail.Trust.Scoring;

/// <summary>A recipient domain's decision: the action, the score and its symbols, the threshold that
/// applies, and the SMTP reply for Reject and TempFail.</summary>
public sealed record TrustDecision(TrustAction Action, double Score, IReadOnlyList<Symbol> Symbols, double Required, string? Reply, string Reason);

/// <summary>
/// Turns the evidence of one message into a decision under one domain's policy: each check gives a
/// named symbol, the policy weighs them, and the sum meets the thresholds. DMARC's own request (p=)
/// sets a floor: p=quarantine is at least Junk, p=reject is 550 5.7.1 unless the domain softens it.
/// A DNS error that leaves DMARC undecided is a temporary failure (451 4.7.1): the sender retries,
/// and a spoofed message is not let through because a resolver hiccuped.
/// </summary>
public static class SpamScorer
{
    public static TrustDecision Decide(InboundReport report, SpamPolicy policy, IReadOnlyList<SpamZone> nodeBlocklists)
    {
        var symbols = new List<Symbol>(report.Symbols.Count + 2);
        foreach (var s in report.Symbols)
        {
            // The symbol itself where the policy leaves its weight (bit for bit): one record fewer per symbol and mailbox.
            var weight = Weigh(policy, s.Name, s.Weight);
            symbols.Add(BitConverter.DoubleToInt64Bits(weight) == BitConverter.DoubleToInt64Bits(s.Weight) ? s : s with { Weight = weight });
        }
        // Answers that are all "not listed" give no symbol whatever the zones (ListingSymbol): the common case, without the sets.
        if (AnyAnswer(report.IpListings))
        {
            var ipZones = nodeBlocklists.Concat(policy.Blocklists).Select(z => z.Zone).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var group in report.IpListings.Where(l => ipZones.Contains(l.Zone)).GroupBy(l => l.Zone, StringComparer.OrdinalIgnoreCase))
            {
                if (ListingSymbol(group.ToList(), SpamSymbols.Blocklist(group.Key), policy) is { } listing) symbols.Add(listing);
            }
        }
        if (AnyAnswer(report.UriListings))
        {
            var uriZones = policy.UriBlocklists.Select(z => z.Zone).ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var group in report.UriListings.Where(l => uriZones.Contains(l.Zone)).GroupBy(l => l.Zone, StringComparer.OrdinalIgnoreCase))
            {
                if (ListingSymbol(group.ToList(), SpamSymbols.UriBlocklist(group.Key), policy) is { } listing) symbols.Add(listing);
            }
        }
        var sum = 0.0;
        foreach (var s in symbols) sum += s.Weight;
        var score = Math.Round(sum, 2);

        var v = report.Verdicts;
        if (v.Dmarc is { Result: DmarcResult.TempError } dt)
            return new(TrustAction.TempFail, score, symbols, policy.JunkAt, "451 4.7.1 DMARC could not be evaluated (DNS error), try again later", dt.Reason);
        if (v.Dmarc is { Result: DmarcResult.Fail, PublishedPolicy: DmarcPolicy.Reject or DmarcPolicy.Quarantine } df
            && (v.MailFrom?.Verdict.Result == SpfResult.TempError || v.Dkim.Any(d => d.Result == DkimResult.TempError)))
        {
            return new(TrustAction.TempFail, score, symbols, policy.JunkAt,
                $"451 4.7.1 Authentication of {df.FromDomain} could not be completed (DNS error), try again later", "SPF or DKIM temperror under a DMARC policy");
        }

        var floor = TrustAction.Deliver;
        string? floorReason = null;
        if (v.Dmarc is { Result: DmarcResult.Fail } dmarc)
        {
            if (dmarc.Policy == DmarcPolicy.Reject && !policy.DmarcRejectAsJunk)
            {
                return new(TrustAction.Reject, score, symbols, policy.RejectAt,
                    $"550 5.7.1 Rejected by the DMARC policy of {dmarc.FromDomain}: {dmarc.Reason}", "DMARC p=reject");
            }
            if (dmarc.Policy is DmarcPolicy.Reject or DmarcPolicy.Quarantine)
            {
                floor = TrustAction.Junk;
                floorReason = $"DMARC p={dmarc.Policy.ToString().ToLowerInvariant()}";
            }
        }
        var byScore = score >= policy.RejectAt ? TrustAction.Reject
            : score >= policy.QuarantineAt ? TrustAction.Quarantine
            : score >= policy.JunkAt ? TrustAction.Junk
            : TrustAction.Deliver;
        if (byScore == TrustAction.Reject)
        {
            var top = string.Join(", ", symbols.Where(s => s.Weight > 0).OrderByDescending(s => s.Weight).Take(4).Select(s => s.Name));
            return new(TrustAction.Reject, score, symbols, policy.RejectAt,
                $"550 5.7.1 Message refused as spam (score {Number(score)}: {top})", "score");
        }
        var action = byScore > floor ? byScore : floor;
        var required = action switch
        {
            TrustAction.Quarantine => policy.QuarantineAt,
            _ => policy.JunkAt,
        };
        return new(action, score, symbols, required, null, action == floor && floorReason is not null ? floorReason : "score");
    }

    /// <summary>The X-Spam-Status header value: verdict, score, threshold, action and the symbols with their weights.</summary>
    public static string StatusHeader(TrustDecision d)
    {
        var b = new StringBuilder();
        b.Append(d.Action == TrustAction.Deliver ? "No" : "Yes").Append(", score=").Append(Number(d.Score))
            .Append(" required=").Append(Number(d.Required)).Append(" action=").Append(ActionName(d.Action))
            .Append("\r\n\ttests=");
        AppendSymbols(b, d, ",\r\n\t");
        return b.ToString();
    }

    /// <summary>The symbols for a log line: NAME(weight) separated by commas.</summary>
    public static string SymbolList(TrustDecision d) => AppendSymbols(new StringBuilder(), d, ",").ToString();

    public static string Number(double value) => value.ToString("0.0#", CultureInfo.InvariantCulture);

    /// <summary>An action as the receive log and the headers write it (lower case), without a string per message.</summary>
    public static string ActionName(TrustAction action) => action switch
    {
        TrustAction.Deliver => "deliver",
        TrustAction.Junk => "junk",
        TrustAction.Quarantine => "quarantine",
        TrustAction.Reject => "reject",
        TrustAction.TempFail => "tempfail",
        _ => action.ToString().ToLowerInvariant(),
    };

    private static StringBuilder AppendSymbols(StringBuilder b, TrustDecision d, string separator)
    {
        for (var i = 0; i < d.Symbols.Count; i++)
        {
            if (i > 0) b.Append(separator);
            // Formatted into the builder (the same text as Number), not into a string of its own.
            b.Append(d.Symbols[i].Name).Append('(').Append(CultureInfo.InvariantCulture, $"{d.Symbols[i].Weight:0.0#}").Append(')');
        }
        return b;
    }

    private static bool AnyAnswer(IReadOnlyList<Listing> listings)
    {
        foreach (var l in listings)
            if (l.Status != ListingStatus.NotListed) return true;
        return false;
    }

    /// <summary>A zone's symbol: listed (its weight), an error (weight 0, noted), or null when nothing is listed.</summary>
    private static Symbol? ListingSymbol(List<Listing> listings, string symbol, SpamPolicy policy)
    {
        var listed = listings.FirstOrDefault(l => l.Status == ListingStatus.Listed);
        if (listed is not null) return new Symbol(symbol, Weigh(policy, symbol, listed.Weight), listed.Code);
        var error = listings.FirstOrDefault(l => l.Status == ListingStatus.Error);
        return error is not null
            ? new Symbol(SpamSymbols.BlocklistError(symbol), 0, error.Code ?? "DNS error")
            : null;
    }

    private static double Weigh(SpamPolicy policy, string name, double fallback) =>
        policy.Weights.TryGetValue(name, out var w) ? w : fallback;
}
