using GrainMail.Storage.Domains;

namespace GrainMail.Gateways.Http.Domains;

/// <summary>
/// Every hosted domain. Read from the directory table today; kept behind this class so that it
/// can become a grain call without touching the endpoints.
/// </summary>
public sealed class DomainListing(DomainDirectory directory)
{
    public async Task<IReadOnlyList<DomainSummary>> ListAsync(CancellationToken ct)
    {
        var rows = await directory.ListAsync(ct);
        return rows.Select(d => new DomainSummary(d.Name, d.HomeRegion, d.CreatedAt)).ToList();
    }
}
