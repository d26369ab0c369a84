using System.Globalization;
using System.Text;
using GrainMail.Contracts.Admin;
using GrainMail.Contracts.Audit;
using GrainMail.Gateways.Http.Organization.Csv;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Audit;

public sealed record AuditPageResponse(IReadOnlyList<AuditItem> Items, long? Next);

/// <summary>
/// <c>/api/v1/audit</c>: search (paged, oldest first), CSV export and chain verification. The
/// super admin sees every entry; domain admins and auditors over a whole domain see the entries
/// whose target lies in their domains; verification is for the super admin and auditors.
/// </summary>
public static class AuditEndpoints
{
    public const int MaxPage = 1000;

    public static void MapAudit(this RouteGroupBuilder api)
    {
        // Every change made through the group gets before/after where it fits (AuditSnapshots.cs);
        // the entries themselves are written by AuditRecorder, around authorization.
        api.AddEndpointFilter<AuditSnapshotFilter>();
        var g = api.MapGroup("/audit").WithTags("Audit");
        g.MapGet("", Search).Reads(ScopeResource.CheckedByEndpoint);
        g.MapGet("/export", Export).Produces<string>(StatusCodes.Status200OK, "text/csv").Reads(ScopeResource.CheckedByEndpoint)
            .WithMetadata(new AuditedRead(), new AuditActionAttribute("audit.export"));
        g.MapGet("/verify", Verify).Reads(ScopeResource.CheckedByEndpoint);
        // Writes nothing in the database: an auditor may anchor as well as verify.
        g.MapPost("/anchor", Anchor).Reads(ScopeResource.CheckedByEndpoint).WithMetadata(new AuditActionAttribute("audit.anchor"));
    }

    /// <summary>The domains whose entries the caller sees: null for all (super), empty for none.</summary>
    public static IReadOnlyList<string>? VisibleDomains(AdminCaller caller) => caller.IsSuper ? null
        : caller.Kind == SessionKind.User ? []
        : caller.Roles.Where(r => r.DomainWide && r.Role is AdminRoleKind.DomainAdmin or AdminRoleKind.Auditor).Select(r => r.Domain).Distinct().ToList();

    private static ProblemHttpResult NotAllowed() =>
        ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", "The audit log is read by the super admin, and by domain admins and auditors of a whole domain (their domain's entries)");

    private static bool TryQuery(HttpContext http, string? actor, string? action, string? target, DateTimeOffset? from, DateTimeOffset? to,
        long? after, int? limit, int defaultLimit, out AuditQuery query, out ProblemHttpResult? problem)
    {
        query = null!;
        problem = null;
        var domains = VisibleDomains(AdminCaller.Of(http)!);
        if (domains is { Count: 0 })
        {
            problem = NotAllowed();
            return false;
        }
        if (limit is < 1 or > MaxPage)
        {
            problem = ApiProblem.BadRequest("Invalid limit", $"1 to {MaxPage}");
            return false;
        }
        if (from is { } f && to is { } t && t < f)
        {
            problem = ApiProblem.BadRequest("Invalid time range", "to is before from");
            return false;
        }
        query = new AuditQuery(Blank(actor), Blank(action), Blank(target), from, to, domains, after ?? 0, limit ?? defaultLimit);
        return true;
    }

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    private static async Task<Results<Ok<AuditPageResponse>, ProblemHttpResult>> Search(HttpContext http, IGrainFactory grains,
        string? actor = null, string? action = null, string? target = null, DateTimeOffset? from = null, DateTimeOffset? to = null,
        long? after = null, int? limit = null)
    {
        if (!TryQuery(http, actor, action, target, from, to, after, limit, 100, out var query, out var problem)) return problem!;
        var items = await grains.GetGrain<IAuditGrain>(0).Search(query);
        return TypedResults.Ok(new AuditPageResponse(items, items.Count == query.Limit ? items[^1].Id : null));
    }

    private static readonly string[] CsvColumns = ["id", "at", "actor", "role", "client_ip", "action", "target", "domain", "result", "detail", "hash"];

    private static Results<PushStreamHttpResult, ProblemHttpResult> Export(HttpContext http, IGrainFactory grains,
        string? actor = null, string? action = null, string? target = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        if (!TryQuery(http, actor, action, target, from, to, null, null, MaxPage, out var query, out var problem)) return problem!;
        var grain = grains.GetGrain<IAuditGrain>(0);
        return TypedResults.Stream(async stream =>
        {
            await using var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 64 * 1024);
            writer.NewLine = "\r\n"; // RFC 4180 2.1
            await writer.WriteLineAsync(string.Join(',', CsvColumns));
            var q = query;
            while (true)
            {
                var page = await grain.Search(q);
                foreach (var e in page) await writer.WriteLineAsync(Line(e));
                if (page.Count < q.Limit) break;
                q = q with { AfterId = page[^1].Id };
            }
        }, "text/csv; charset=utf-8", "audit.csv");
    }

    public static string Line(AuditItem e) => string.Join(',',
        e.Id.ToString(CultureInfo.InvariantCulture), e.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
        Cell(e.Actor), Cell(e.ActorRole), Cell(e.ClientIp), Cell(e.Action), Cell(e.Target), Cell(e.Domain), Cell(e.Result), Cell(e.Detail), e.Hash);

    // A cell a spreadsheet would run as a formula is prefixed with an apostrophe (OWASP CSV injection).
    private static string Cell(string? value) =>
        CsvReader.Quote(value is { Length: > 0 } && "=+-@\t\r".Contains(value[0]) ? "'" + value : value);

    private static async Task<Results<Ok<AuditVerification>, ProblemHttpResult>> Verify(HttpContext http, IGrainFactory grains)
    {
        if (!VerifiesChain(AdminCaller.Of(http)!))
            return ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", "The chain is verified by the super admin and by auditors");
        return TypedResults.Ok(await grains.GetGrain<IAuditGrain>(0).Verify());
    }

    /// <summary>Writes the chain's tip to the anchor file now (besides the periodic anchors).</summary>
    private static async Task<Results<Ok<AuditAnchorItem>, ProblemHttpResult>> Anchor(HttpContext http, IGrainFactory grains)
    {
        if (!VerifiesChain(AdminCaller.Of(http)!))
            return ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside your scope", "The chain is anchored by the super admin and by auditors");
        return TypedResults.Ok(await grains.GetGrain<IAuditGrain>(0).Anchor());
    }

    private static bool VerifiesChain(AdminCaller caller) =>
        caller.IsSuper || (caller.Kind != SessionKind.User && caller.Roles.Any(r => r.Role == AdminRoleKind.Auditor));
}
