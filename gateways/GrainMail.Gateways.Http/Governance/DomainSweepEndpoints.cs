using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Governance;
using GrainMail.Gateways.Http.Audit;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Governance;

public sealed record PurgeRequest(IReadOnlyList<string>? Ids);

/// <summary>
/// Domain-wide search and deletion (issue 17, 4.2.18): <c>GET /domains/{domain}/messages</c> finds
/// messages by sender, subject, received time and Message-ID with the mailboxes holding each;
/// <c>POST /domains/{domain}/messages/purge</c> removes the named ones from every mailbox at once.
/// Domain admins search and delete, auditors search; the deletion's audit entry names every copy.
/// </summary>
public static class DomainSweepEndpoints
{
    public const int MaxHits = 500;
    public const int MaxIds = 100;

    public static void MapDomainSweep(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/messages").WithTags("Domain-wide deletion");
        g.MapGet("", Search).Reads(ScopeResource.Domain);
        g.MapPost("/purge", Purge).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Ok<IReadOnlyList<SweepHit>>, ProblemHttpResult>> Search(string domain, IGrainFactory grains,
        string? sender = null, string? subject = null, DateTimeOffset? from = null, DateTimeOffset? to = null, string? messageId = null, int? limit = null)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (limit is < 1 or > MaxHits) return ApiProblem.BadRequest("Invalid limit", $"1 to {MaxHits}");
        static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
        if (Blank(sender) is null && Blank(subject) is null && from is null && to is null && Blank(messageId) is null)
            return ApiProblem.BadRequest("No filter", "Give at least one of sender, subject, from, to, messageId");
        var hits = await grains.GetGrain<IDomainSweepGrain>(0).Search(name,
            new SweepQuery(Blank(sender), Blank(subject), from, to, Blank(messageId), limit ?? 100));
        return TypedResults.Ok(hits);
    }

    private static async Task<Results<Ok<IReadOnlyList<SweepDeletion>>, ProblemHttpResult>> Purge(string domain, [FromBody] PurgeRequest? req,
        IGrainFactory grains, HttpContext http)
    {
        if (req?.Ids is not { Count: > 0 } ids) return ApiProblem.BadRequest("Body must be {\"ids\": [...]}", "the ids of search hits");
        if (ids.Count > MaxIds) return ApiProblem.BadRequest("Too many ids", $"at most {MaxIds} per call");
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var done = await grains.GetGrain<IDomainSweepGrain>(0).Delete(name, ids);
        // The entry names each message and every copy removed or left (AuditRecorder writes it).
        AuditNote.Of(http).Detail["messages"] = JsonNode.Parse(JsonSerializer.Serialize(done, AdminJsonContext.Default.IReadOnlyListSweepDeletion));
        return TypedResults.Ok(done);
    }
}
