using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Dns;

public sealed record DnsRecordResponse(string Type, string Name, string Value, string Purpose)
{
    public static DnsRecordResponse From(DnsRecord r) => new(r.Type, r.Name, r.Value, r.Purpose);
}

/// <param name="Status">ok, different or missing.</param>
/// <param name="Found">What the lookup returned.</param>
public sealed record DnsRecordCheckResponse(DnsRecordResponse Record, string Status, IReadOnlyList<string> Found);

public sealed record DnsCheckResponse(bool Ok, IReadOnlyList<DnsRecordCheckResponse> Records);

/// <summary>The records a domain must publish (MX, SPF, DKIM, DMARC, MTA-STS), their check, and DKIM rotation.</summary>
public static class DnsEndpoints
{
    public static void MapDns(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}").WithTags("DNS and DKIM");
        g.MapGet("/dns", Records).Reads(ScopeResource.Domain);
        g.MapGet("/dns/check", Check).Reads(ScopeResource.Domain);
        g.MapPost("/dkim/rotate", RotateDkim).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Ok<List<DnsRecordResponse>>, ProblemHttpResult>> Records(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var records = await grains.GetGrain<IDomainGrain>(name).GetDnsRecords();
        return records is null ? ApiProblem.NoSuchDomain(name) : TypedResults.Ok(records.Select(DnsRecordResponse.From).ToList());
    }

    private static async Task<Results<Ok<DnsCheckResponse>, ProblemHttpResult>> Check(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var checks = await grains.GetGrain<IDomainGrain>(name).CheckDnsRecords();
        if (checks is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok(new DnsCheckResponse(
            checks.All(c => c.Status == "ok"),
            checks.Select(c => new DnsRecordCheckResponse(DnsRecordResponse.From(c.Record), c.Status, c.Found)).ToList()));
    }

    private static async Task<Results<Ok<List<DnsRecordResponse>>, ProblemHttpResult>> RotateDkim(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var records = await grains.GetGrain<IDomainGrain>(name).RotateDkim();
        return records is null ? ApiProblem.NoSuchDomain(name) : TypedResults.Ok(records.Select(DnsRecordResponse.From).ToList());
    }
}
