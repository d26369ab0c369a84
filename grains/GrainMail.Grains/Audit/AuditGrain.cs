using GrainMail.Contracts.Audit;
using GrainMail.Storage.Audit;
using Orleans.Concurrency;

namespace GrainMail.Grains.Audit;

/// <summary>The audit log over PostgreSQL for gateways; stateless, so every silo serves it (the chain's order is the database's lock).</summary>
[StatelessWorker, Reentrant]
public sealed class AuditGrain(AuditLog log, AuditReader reader, AuditOptions options, TimeProvider clock, AuditAnchors anchors,
    AuditAnchoring anchoring) : Grain, IAuditGrain
{
    public async Task Append(AuditWrite e) =>
        await log.AppendAsync(new AuditRecord(e.Actor, e.ActorRole, e.ClientIp, e.Action, e.Target, e.Result, e.Detail, e.Domain));

    public async Task<IReadOnlyList<AuditItem>> Search(AuditQuery q)
    {
        var rows = await reader.SearchAsync(new AuditSearch(q.Actor, q.Action, q.Target, q.From, q.To, q.Domains, q.AfterId, q.Limit));
        return rows.Select(r => new AuditItem(r.Id, r.At, r.Actor, r.ActorRole, r.ClientIp, r.Action, r.Target, r.Domain, r.Result,
            r.Detail, Convert.ToHexStringLower(r.Hash))).ToList();
    }

    public async Task<AuditVerification> Verify()
    {
        var v = await reader.VerifyAsync(await anchors.LatestAsync());
        return new AuditVerification(v.Intact, v.Checked, v.HeadId, v.LastId, v.FirstBrokenId, v.Problem, v.Anchor?.Id, v.Anchor?.At);
    }

    public async Task<AuditAnchorItem> Anchor()
    {
        var a = await anchoring.AnchorNowAsync();
        return new AuditAnchorItem(a.Id, Convert.ToHexStringLower(a.Hash), a.At, anchors.Path);
    }

    public Task<int> Prune() => AuditRetention.PruneOnceAsync(log, options, clock);
}
