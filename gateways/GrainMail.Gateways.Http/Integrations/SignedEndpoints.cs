using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Organization;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Http.Audit;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Sessions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Http.Integrations;

public sealed record UnreadResponse(string Address, int Unread);

public sealed record SsoRequest(string? Address);

/// <summary>A department by its names from below the domain's root down.</summary>
public sealed record DepartmentPathRequest(IReadOnlyList<string>? Path);

/// <param name="Created">How many levels of the path were made by this request (0: it all existed).</param>
public sealed record DepartmentPathResponse(long Id, int Created);

/// <param name="LoginUrl">Used once: a browser opening it is sent on to the webmail, logged in; an API client gets a session token as JSON.</param>
/// <param name="WebmailUrl">The webmail with the ticket in the fragment (never sent to a server): a link for browsers only.</param>
public sealed record SsoResponse(string Ticket, string LoginUrl, DateTimeOffset ExpiresAt, string WebmailUrl);

/// <summary>
/// /integration/*: what an enterprise's own systems call with signed requests
/// (<see cref="RequestSignature"/>), for accounts of the integration's domain only.
/// </summary>
public static class SignedEndpoints
{
    public static void MapSignedIntegration(this RouteGroupBuilder api)
    {
        // Not the admin token's: the signature is the credential (checked by the filter).
        var g = api.MapGroup("/integration").WithTags("Integration API (signed)").AllowAnonymous().AddEndpointFilter<SignedRequestFilter>();
        g.MapGet("/accounts/{address}/unread", Unread);
        g.MapPost("/sso", SingleSignOn).WithMetadata(new AnySourceAddress()).Accepts<SsoRequest>("application/json");
        // Organisation sync (3.4): the enterprise's HR system pushes its departments and accounts.
        g.MapPost("/directory", SyncDirectory).Accepts<string>("text/csv")
            .WithMetadata(new GrainMail.Gateways.Http.Audit.AuditActionAttribute("integration.directory.sync"));
        g.MapPut("/departments", EnsureDepartment).Accepts<DepartmentPathRequest>("application/json")
            .WithMetadata(new GrainMail.Gateways.Http.Audit.AuditActionAttribute("integration.department.ensure"));
    }

    /// <summary>
    /// The admin import's CSV (same columns, checks, dry run and idempotence) for the
    /// integration's own domain: rows create or update accounts, and the departments their
    /// paths name. A signed body is at most 1 MiB (some 8,000 accounts): a whole directory goes
    /// in several requests, each an import of its rows.
    /// </summary>
    private static async Task<Results<Ok<GrainMail.Gateways.Http.Organization.ImportReport>, ProblemHttpResult>> SyncDirectory(HttpContext http, IGrainFactory grains, bool dryRun = false)
    {
        var domain = VerifiedIntegration.Of(http).Integration.Domain;
        var g = grains.GetGrain<IDomainGrain>(domain);
        if (await g.GetInfo() is null) return ApiProblem.NoSuchDomain(domain);
        return await GrainMail.Gateways.Http.Organization.DirectoryBatchEndpoints.ImportCsvAsync(g, domain, VerifiedIntegration.Of(http).Body, dryRun);
    }

    /// <summary>
    /// Makes sure a department exists at a path of names below the root (each level created when
    /// missing, as the import does): the HR system's department, even before anyone is in it.
    /// Idempotent: the same path answers the same id.
    /// </summary>
    private static async Task<Results<Ok<DepartmentPathResponse>, ProblemHttpResult>> EnsureDepartment(HttpContext http, IGrainFactory grains)
    {
        DepartmentPathRequest? req;
        try
        {
            req = JsonSerializer.Deserialize(VerifiedIntegration.Of(http).Body, AdminJsonContext.Default.DepartmentPathRequest);
        }
        catch (JsonException)
        {
            return ApiProblem.BadJson();
        }
        if (req?.Path is not { Count: > 0 } path) return ApiProblem.BadRequest("Body must be {\"path\": [name, ...]}", "the names from below the root down to the department");
        if (path.Count > DirectoryLimits.MaxDepth - 1)
            return ApiProblem.BadRequest("Too deep", $"{path.Count + 1} levels with the root; at most {DirectoryLimits.MaxDepth}");
        var domain = VerifiedIntegration.Of(http).Integration.Domain;
        var g = grains.GetGrain<IDomainGrain>(domain);
        if (await g.GetInfo() is null) return ApiProblem.NoSuchDomain(domain);
        var tree = await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(domain);
        long? parent = null;
        var created = 0;
        foreach (var raw in path)
        {
            if (DirectoryLimits.NormalizeDepartmentName(raw) is not { } name) return ApiProblem.BadRequest("Invalid department name", raw);
            // Below the root: the root (depth 1) is the parent of the first level.
            var parentId = parent ?? tree.FirstOrDefault(d => d.Depth == 1)?.Id;
            var existing = tree.FirstOrDefault(d => d.ParentId == parentId && d.Name == name);
            if (existing is not null)
            {
                parent = existing.Id;
                continue;
            }
            var r = await g.CreateDepartment(name, parent);
            if (r.Status == DomainOpStatus.AlreadyExists)
            {
                // Made meanwhile by another request: read the tree again and take it.
                tree = await grains.GetGrain<IDirectoryQueryGrain>(0).ListDepartments(domain);
                parent = tree.First(d => d.ParentId == parentId && d.Name == name).Id;
                continue;
            }
            if (r.Status != DomainOpStatus.Ok) return GrainMail.Gateways.Http.Organization.DepartmentEndpoints.Problem(r, domain);
            parent = r.Id;
            created++;
        }
        return TypedResults.Ok(new DepartmentPathResponse(parent!.Value, created));
    }

    /// <summary>Unseen messages in the account's INBOX, as IMAP STATUS UNSEEN counts them.</summary>
    private static async Task<Results<Ok<UnreadResponse>, ProblemHttpResult>> Unread(string address, HttpContext http, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (OutsideDomain(http, a) is { } outside) return outside;
        var mailbox = grains.GetGrain<IMailboxGrain>(a);
        if (!await mailbox.Exists()) return ApiProblem.NoSuchAccount(a);
        var inbox = await mailbox.GetFolder("INBOX");
        return TypedResults.Ok(new UnreadResponse(a, inbox?.Unseen ?? 0));
    }

    private static async Task<Results<Created<SsoResponse>, ProblemHttpResult>> SingleSignOn(HttpContext http, IGrainFactory grains)
    {
        SsoRequest? req;
        try
        {
            req = JsonSerializer.Deserialize(VerifiedIntegration.Of(http).Body, AdminJsonContext.Default.SsoRequest);
        }
        catch (JsonException)
        {
            return ApiProblem.BadJson();
        }
        if (!RouteNames.TryAddress(req?.Address, out var a, out var problem)) return problem;
        if (OutsideDomain(http, a) is { } outside) return outside;
        var info = await grains.GetGrain<IAccountGrain>(a).GetInfo();
        if (info is null) return ApiProblem.NoSuchAccount(a);
        if (!info.Enabled) return ApiProblem.Of(StatusCodes.Status403Forbidden, "Account disabled", a);
        var ticket = SessionTokens.NewTicket();
        var expires = await grains.GetGrain<IIntegrationGrain>(0).IssueSsoTicket(VerifiedIntegration.Of(http).Integration.Id, a, SessionTokens.Hash(ticket));
        var origin = SsoLinks.Origin(http.Request, http.RequestServices.GetService<SsoLinkOptions>());
        var url = $"{origin}{AdminApi.Prefix}/sso/{ticket}";
        // The audit entry names the account, never the live ticket (the recorder would copy the Location).
        var note = AuditNote.Of(http);
        note.Target = a;
        note.Detail["created"] = "sso ticket (not recorded)";
        return TypedResults.Created(url, new SsoResponse(ticket, url, expires, $"{origin}{SsoHandoff.WebmailUrl(ticket)}"));
    }

    private static ProblemHttpResult? OutsideDomain(HttpContext http, string address)
    {
        var domain = VerifiedIntegration.Of(http).Integration.Domain;
        return MailAddress.DomainOf(address) == domain
            ? null
            : ApiProblem.Of(StatusCodes.Status403Forbidden, "Outside the integration's domain", $"{address} is not in {domain}");
    }
}
