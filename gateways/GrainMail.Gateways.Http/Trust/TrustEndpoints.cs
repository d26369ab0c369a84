using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Trust;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using GrainMail.Gateways.Http.Scopes;

namespace GrainMail.Gateways.Http.Trust;

/// <summary>A blocklist zone and the weight of a listing in it.</summary>
public sealed record SpamZoneBody(string Zone, double? Weight);

/// <summary>
/// A domain's spam policy as the API shows and takes it. Every field is optional on PUT (a missing
/// one keeps its default): thresholds junkAt ≤ quarantineAt ≤ rejectAt; dmarcReject "reject" (550 5.7.1)
/// or "junk"; weights by symbol name; blocklists for the connecting IP and for linked domains.
/// </summary>
public sealed record SpamPolicyBody(double? JunkAt, double? QuarantineAt, double? RejectAt, string? DmarcReject,
    Dictionary<string, double>? Weights, List<SpamZoneBody>? Blocklists, List<SpamZoneBody>? UriBlocklists);

public sealed record ReceiveLogLine(DateTimeOffset ReceivedAt, string? Sender, string ClientIp, string? FromDomain, string Action,
    double Score, string Symbols, string AuthenticationResults);

public sealed record QuarantineLine(Guid Id, string Mailbox, string? Sender, long Size, double Score, string Symbols, DateTimeOffset ReceivedAt);

/// <summary>
/// Inbound trust: each domain's spam policy (GET/PUT), each account's receive log (what the checks
/// decided for every MX message, newest first), and the quarantine (list, release, delete).
/// </summary>
public static class TrustEndpoints
{
    /// <summary>Weight of a blocklist zone given without one: one listing gives Junk, two reject (defaults).</summary>
    public const double DefaultZoneWeight = 7;

    public static void MapTrust(this RouteGroupBuilder api)
    {
        api.MapGet("/domains/{domain}/spam-policy", GetPolicy).WithTags("Spam").Reads(ScopeResource.Domain);
        api.MapPut("/domains/{domain}/spam-policy", PutPolicy).WithTags("Spam").Writes(ScopeResource.Domain);
        api.MapGet("/accounts/{address}/receive-log", ReceiveLog).WithTags("Spam").Reads(ScopeResource.Account, allowSelf: true);
        api.MapGet("/domains/{domain}/quarantine", DomainQuarantine).WithTags("Spam").Reads(ScopeResource.Domain);
        api.MapGet("/accounts/{address}/quarantine", AccountQuarantine).WithTags("Spam").Reads(ScopeResource.Account, allowSelf: true);
        api.MapPost("/quarantine/{id:guid}/release", Release).WithTags("Spam").NodeWide();
        api.MapDelete("/quarantine/{id:guid}", Delete).WithTags("Spam").NodeWide();
    }

    private static async Task<Results<Ok<SpamPolicyBody>, ProblemHttpResult>> GetPolicy(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        return TypedResults.Ok(ToBody(await grains.GetGrain<ISpamPolicyGrain>(name).Get()));
    }

    private static async Task<Results<Ok<SpamPolicyBody>, ProblemHttpResult>> PutPolicy(string domain, SpamPolicyBody body, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        if (body.DmarcReject is not (null or "reject" or "junk")) return ApiProblem.BadRequest("Invalid spam policy", "dmarcReject must be \"reject\" or \"junk\"");
        var d = SpamPolicy.Default;
        var policy = new SpamPolicy(body.JunkAt ?? d.JunkAt, body.QuarantineAt ?? d.QuarantineAt, body.RejectAt ?? d.RejectAt,
            body.DmarcReject == "junk", body.Weights ?? [],
            (body.Blocklists ?? []).Select(Zone).ToList(), (body.UriBlocklists ?? []).Select(Zone).ToList());
        if (policy.Problem() is { } why) return ApiProblem.BadRequest("Invalid spam policy", why);
        await grains.GetGrain<ISpamPolicyGrain>(name).Set(policy);
        return TypedResults.Ok(ToBody(policy));
    }

    private static async Task<Results<Ok<List<ReceiveLogLine>>, ProblemHttpResult>> ReceiveLog(string address, int? limit, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (limit is < 1 or > 1000) return ApiProblem.BadRequest("limit must be between 1 and 1000");
        var lines = await grains.GetGrain<IReceiveLogGrain>(0).Read(a, limit ?? 100);
        return TypedResults.Ok(lines.Select(l => new ReceiveLogLine(l.ReceivedAt, l.Sender, l.ClientIp, l.FromDomain, l.Action, l.Score, l.Symbols, l.AuthenticationResults)).ToList());
    }

    private static async Task<Results<Ok<List<QuarantineLine>>, ProblemHttpResult>> DomainQuarantine(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return TypedResults.Ok(Lines(await grains.GetGrain<IQuarantineGrain>(0).List(null, name)));
    }

    private static async Task<Results<Ok<List<QuarantineLine>>, ProblemHttpResult>> AccountQuarantine(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        return TypedResults.Ok(Lines(await grains.GetGrain<IQuarantineGrain>(0).List(a, null)));
    }

    private static async Task<Results<Accepted, ProblemHttpResult>> Release(Guid id, IGrainFactory grains) =>
        await grains.GetGrain<IQuarantineGrain>(0).Release(id) ? TypedResults.Accepted((string?)null) : ApiProblem.NotFound("No such held message", id.ToString());

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(Guid id, IGrainFactory grains) =>
        await grains.GetGrain<IQuarantineGrain>(0).Delete(id) ? TypedResults.NoContent() : ApiProblem.NotFound("No such held message", id.ToString());

    private static List<QuarantineLine> Lines(IReadOnlyList<QuarantinedMessage> held) =>
        held.Select(q => new QuarantineLine(q.Id, q.Mailbox, q.Sender, q.Size, q.Score, q.Symbols, q.ReceivedAt)).ToList();

    private static SpamZone Zone(SpamZoneBody z) => new((z.Zone ?? "").Trim().TrimEnd('.').ToLowerInvariant(), z.Weight ?? DefaultZoneWeight);

    private static SpamPolicyBody ToBody(SpamPolicy p) => new(p.JunkAt, p.QuarantineAt, p.RejectAt, p.DmarcRejectAsJunk ? "junk" : "reject",
        new Dictionary<string, double>(p.Weights), p.Blocklists.Select(z => new SpamZoneBody(z.Zone, z.Weight)).ToList(),
        p.UriBlocklists.Select(z => new SpamZoneBody(z.Zone, z.Weight)).ToList());
}
