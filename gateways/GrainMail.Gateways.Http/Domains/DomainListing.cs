using GrainMail.Contracts.Operations;

namespace GrainMail.Gateways.Http.Domains;

/// <summary>Every hosted domain, from the directory, read on a silo (the HTTP gateway has no database).</summary>
public sealed class DomainListing(IGrainFactory grains)
{
    public async Task<IReadOnlyList<DomainSummary>> ListAsync(CancellationToken ct)
    {
        var rows = await grains.GetGrain<IAdminViewGrain>(0).ListDomains().WaitAsync(ct);
        return rows.Select(d => new DomainSummary(d.Name, d.HomeRegion, d.CreatedAt)).ToList();
    }
}
