using System.Security.Claims;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Trust;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Trust;

/// <summary>A domain's virus policy: what happens to its mail while clamd cannot scan it.
/// <c>whenUnavailable</c>: "defer" (451 4.7.1, the default) or "deliver" (unscanned, with an X-Virus-Status header).</summary>
public sealed record VirusPolicyBody(string? WhenUnavailable);

/// <summary>GET/PUT /domains/{domain}/virus-policy (audited on change).</summary>
public static class VirusPolicyEndpoints
{
    public static void MapVirusPolicy(this RouteGroupBuilder api)
    {
        api.MapGet("/domains/{domain}/virus-policy", Get).WithTags("Spam").Reads(ScopeResource.Domain);
        api.MapPut("/domains/{domain}/virus-policy", Put).WithTags("Spam").Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Ok<VirusPolicyBody>, ProblemHttpResult>> Get(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok(ToBody(await grains.GetGrain<IVirusPolicyGrain>(name).Get()));
    }

    private static async Task<Results<Ok<VirusPolicyBody>, ProblemHttpResult>> Put(string domain, VirusPolicyBody body, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        if (body.WhenUnavailable is not ("defer" or "deliver")) return ApiProblem.BadRequest("Invalid virus policy", "whenUnavailable must be \"defer\" or \"deliver\"");
        var policy = new VirusPolicy(body.WhenUnavailable == "deliver");
        await grains.GetGrain<IVirusPolicyGrain>(name).Set(policy, http.User.FindFirstValue(ClaimTypes.Name) ?? "unknown",
            http.Connection.RemoteIpAddress?.ToString() ?? "");
        return TypedResults.Ok(ToBody(policy));
    }

    private static VirusPolicyBody ToBody(VirusPolicy p) => new(p.DeliverUnscanned ? "deliver" : "defer");
}
