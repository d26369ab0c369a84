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
/// the reply, so a false "maybe" costs one run and never a wrong refusal). A SieveGrain whose change failed in the
/// database (it may have landed unseen) says so, and the account is flagged until the domain has read the scripts
/// again, every few seconds until the database answers.
/// </summary>
public sealed partial class DomainGrain
{
    private HashSet<string> _protocolReject = new(StringComparer.Ordinal);

    private async Task LoadProtocolRejectAsync(CancellationToken ct) =>
        _protocolReject = (await ServiceProvider.GetRequiredService<SieveStore>().MayProtocolRejectAsync(Name, ct))
            .Select(GrainMail.Contracts.MailAddress.LocalPartOf).ToHashSet(StringComparer.Ordinal);

    /// <summary>Accounts whose SieveGrain's change failed in the database: flagged until the scripts are read again.</summary>
    private HashSet<string>? _protocolRejectUnsure;

    private IGrainTimer? _protocolRejectRecheck;

    /// <summary>How often the scripts of unsure accounts are read again while some are (the database may still be away).</summary>
    internal static readonly TimeSpan ProtocolRejectRecheck = TimeSpan.FromSeconds(5);

    public Task SetProtocolReject(string localPart, bool uses)
    {
        if (uses) _protocolReject.Add(localPart);
        else _protocolReject.Remove(localPart);
        // The SieveGrain has just read its scripts: fresher than any read of ours still to come.
        _protocolRejectUnsure?.Remove(localPart);
        return Task.CompletedTask;
    }

    public Task ProtocolRejectUnsure(string localPart)
    {
        // Flagged meanwhile: the script's grain is asked at DATA and, activated afresh, runs what the database holds, so
        // a flag too many costs a run and never a wrong refusal; a flag missing let an ereject script's message in.
        _protocolReject.Add(localPart);
        (_protocolRejectUnsure ??= new(StringComparer.Ordinal)).Add(localPart);
        _protocolRejectRecheck ??= this.RegisterGrainTimer(RecheckProtocolRejectAsync,
            new GrainTimerCreationOptions(ProtocolRejectRecheck, ProtocolRejectRecheck) { KeepAlive = false });
        return Task.CompletedTask;
    }

    /// <summary>Reads the flags of the unsure accounts again, as an activation does; tried again at the next tick while the database fails.</summary>
    private async Task RecheckProtocolRejectAsync(CancellationToken ct)
    {
        if (_protocolRejectUnsure is not { Count: > 0 } unsure)
        {
            StopRecheck();
            return;
        }
        var asked = unsure.ToList();
        HashSet<string> may;
        try
        {
            may = (await ServiceProvider.GetRequiredService<SieveStore>().MayProtocolRejectAsync(Name, ct))
                .Select(GrainMail.Contracts.MailAddress.LocalPartOf).ToHashSet(StringComparer.Ordinal);
        }
        catch (Exception e) when (StorageFailureFilter.Translate(e) is not null)
        {
            return; // still flagged; the next tick asks again
        }
        foreach (var lp in asked)
        {
            // One the SieveGrain told us about meanwhile is no longer unsure, and its answer stands.
            if (!unsure.Remove(lp)) continue;
            if (may.Contains(lp)) _protocolReject.Add(lp);
            else _protocolReject.Remove(lp);
        }
        if (unsure.Count == 0) StopRecheck();
    }

    private void StopRecheck()
    {
        _protocolRejectRecheck?.Dispose();
        _protocolRejectRecheck = null;
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
