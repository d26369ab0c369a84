using GrainMail.Storage.Sieve;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Grains.Domains;

/// <summary>
/// Which accounts' active Sieve script may refuse in the SMTP dialogue (<c>ereject</c>, RFC 5429
/// 2.1.1). The MX used to ask the single recipient's SieveGrain before every DATA reply — a grain
/// call on the inbound hot path for every message, almost always answered "no". Now the domain,
/// which RCPT asks anyway, keeps the set in memory and names the flagged mailboxes in its verdict;
/// each SieveGrain tells its domain after every change of its scripts, and an activation reads the
/// set from <c>sieve_script</c> in one query (a superset by text: the script is still run before
/// the reply, so a false "maybe" costs one run and never a wrong refusal).
/// </summary>
public sealed partial class DomainGrain
{
    private HashSet<string> _protocolReject = new(StringComparer.Ordinal);

    private async Task LoadProtocolRejectAsync(CancellationToken ct) =>
        _protocolReject = (await ServiceProvider.GetRequiredService<SieveStore>().MayProtocolRejectAsync(Name, ct))
            .Select(GrainMail.Contracts.MailAddress.LocalPartOf).ToHashSet(StringComparer.Ordinal);

    public Task SetProtocolReject(string localPart, bool uses)
    {
        if (uses) _protocolReject.Add(localPart);
        else _protocolReject.Remove(localPart);
        return Task.CompletedTask;
    }

    /// <summary>Those of this domain's <paramref name="mailboxes"/> flagged, with any a hop into another domain flagged; null when none.</summary>
    private IReadOnlyList<string>? ProtocolRejectOf(IEnumerable<string> mailboxes, IEnumerable<string>? flaggedElsewhere)
    {
        List<string>? flagged = null;
        foreach (var m in mailboxes)
        {
            if (GrainMail.Contracts.MailAddress.DomainOf(m) == Name && _protocolReject.Contains(GrainMail.Contracts.MailAddress.LocalPartOf(m)))
                (flagged ??= []).Add(m);
        }
        if (flaggedElsewhere is not null) (flagged ??= []).AddRange(flaggedElsewhere);
        return flagged?.Distinct(StringComparer.Ordinal).ToList();
    }
}
