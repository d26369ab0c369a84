using GrainMail.Contracts.Domains;
using GrainMail.Contracts.LargeFiles;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.LargeFiles;

public sealed record LargeFilePolicyRequest(int? LinkDays);

/// <param name="LinkDays">How long a download link lives after its upload completes.</param>
/// <param name="MaxFileBytes">The largest file (fixed: 3 GiB).</param>
/// <param name="MaxPatchBytes">The most one upload request carries (fixed: 16 MiB).</param>
public sealed record LargeFilePolicyResponse(string Domain, int LinkDays, long MaxFileBytes, int MaxPatchBytes);

/// <summary>A domain's setting for large attachments by link (seed 4.1.3).</summary>
public static class LargeFilePolicyEndpoints
{
    public static void MapLargeFilePolicy(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/large-files").WithTags("Large attachments");
        g.MapGet("", Get).Reads(ScopeResource.Domain);
        g.MapPut("", Put).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Ok<LargeFilePolicyResponse>, ProblemHttpResult>> Get(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok(Response(name, await grains.GetGrain<ILargeFileReaderGrain>(0).LinkDays(name)));
    }

    private static async Task<Results<Ok<LargeFilePolicyResponse>, ProblemHttpResult>> Put(string domain, LargeFilePolicyRequest? body, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (body?.LinkDays is not int days || days is < 1 or > LargeFileLimits.MaxLinkDays)
            return ApiProblem.BadRequest("Invalid linkDays", $"1 to {LargeFileLimits.MaxLinkDays}");
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        await grains.GetGrain<ILargeFileReaderGrain>(0).SetLinkDays(name, days);
        return TypedResults.Ok(Response(name, days));
    }

    private static LargeFilePolicyResponse Response(string domain, int days) =>
        new(domain, days, LargeFileLimits.MaxFileBytes, LargeFileLimits.MaxPatchBytes);
}
