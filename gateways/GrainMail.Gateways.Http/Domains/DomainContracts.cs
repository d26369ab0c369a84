using GrainMail.Contracts.Domains;

namespace GrainMail.Gateways.Http.Domains;

/// <param name="Name">A domain name (U-labels or A-labels); stored as A-labels.</param>
public sealed record CreateDomainRequest(string? Name, string? HomeRegion, long? DefaultQuotaBytes, long? MaxMessageBytes);

public sealed record DomainResponse(
    string Name, string UnicodeName, string HomeRegion, long DefaultQuotaBytes, long MaxMessageBytes, int Accounts, int Aliases, DateTimeOffset CreatedAt)
{
    public static DomainResponse From(DomainInfo d) => new(
        d.Name, Contracts.DomainName.ToUnicode(d.Name), d.Settings.HomeRegion, d.Settings.DefaultQuotaBytes, d.Settings.MaxMessageBytes,
        d.AccountCount, d.AliasCount, d.CreatedAt);
}

public sealed record DomainSummary(string Name, string HomeRegion, DateTimeOffset CreatedAt);
