using System.Security.Claims;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using MimeKit;

namespace GrainMail.Gateways.Http.Mailbox;

/// <param name="Folder">The folder it was removed from, as named then.</param>
/// <param name="Subject">From the message's own header (the database keeps no subject in clear).</param>
public sealed record DeletedMessageResponse(
    long Id, string Folder, long Size, DateTimeOffset InternalDate, DateTimeOffset DeletedAt, DateTimeOffset RecoverableUntil,
    string? Subject, string? From);

public sealed record RestoreRequest(List<long>? Ids);

/// <summary>Where a restored message went: its folder (its own, or INBOX when that is gone) and new UID.</summary>
public sealed record RestoredMessageResponse(long Id, string Folder, long UidValidity, long Uid);

public sealed record RecoveryPolicyRequest(int? RecoveryDays);

public sealed record RecoveryPolicyResponse(string Domain, int RecoveryDays);

/// <summary>
/// Deleted-mail recovery (issue 17, 4.3.10): the user lists and restores with their own credentials
/// (<c>/api/v1/me/deleted</c>, HTTP Basic on HTTPS), an administrator for a user (scope Account, audited),
/// and a domain's window (scope Domain, audited).
/// </summary>
public static class DeletedMailEndpoints
{
    /// <summary>At most this many ids per restore, and entries per listing.</summary>
    public const int MaxIds = 1000;

    /// <summary>Only the header section is read for the listing's subject and sender.</summary>
    private const int HeaderBytes = 32 * 1024;

    public static void MapDeletedMail(this RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{address}/deleted", AdminList).WithTags("Mailbox").Reads(ScopeResource.Account);
        api.MapPost("/accounts/{address}/deleted/restore", AdminRestore).WithTags("Mailbox").Writes(ScopeResource.Account);
        api.MapGet("/domains/{domain}/recovery", GetPolicy).WithTags("Domains").Reads(ScopeResource.DomainOverview);
        api.MapPut("/domains/{domain}/recovery", SetPolicy).WithTags("Domains").Writes(ScopeResource.Domain);
    }

    /// <summary>The user's own endpoints: account credentials, not the admin token.</summary>
    public static IEndpointRouteBuilder MapMyDeletedMail(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup(AdminApi.Prefix + "/me").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("/deleted", (ClaimsPrincipal user, IGrainFactory grains) => ListAsync(user.Address(), grains));
        me.MapPost("/deleted/restore", (ClaimsPrincipal user, IGrainFactory grains, RestoreRequest? body) =>
            RestoreAsync(body, ids => grains.GetGrain<IMailboxGrain>(user.Address()).RestoreDeleted(ids)));
        return app;
    }

    private static async Task<Results<Ok<List<DeletedMessageResponse>>, ProblemHttpResult>> AdminList(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (!await grains.GetGrain<IMailboxGrain>(a).Exists()) return ApiProblem.NoSuchAccount(a);
        return await ListAsync(a, grains);
    }

    private static async Task<Results<Ok<List<RestoredMessageResponse>>, ProblemHttpResult>> AdminRestore(
        string address, RestoreRequest? body, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var actor = Actor(http);
        return await RestoreAsync(body, ids => grains.GetGrain<IDeletedMailAdminGrain>(0).Restore(a, ids, actor));
    }

    private static async Task<Results<Ok<List<DeletedMessageResponse>>, ProblemHttpResult>> ListAsync(string address, IGrainFactory grains)
    {
        var deleted = await grains.GetGrain<IMailboxGrain>(address).ListDeleted();
        var blobs = grains.GetGrain<IMessageBlobGrain>(0);
        var list = new List<DeletedMessageResponse>();
        foreach (var d in deleted.Take(MaxIds))
        {
            var (subject, from) = await HeaderOfAsync(blobs, d.Blob);
            list.Add(new DeletedMessageResponse(d.Id, d.Folder, d.Blob.Size, d.InternalDate, d.DeletedAt, d.RecoverableUntil, subject, from));
        }
        return TypedResults.Ok(list);
    }

    private static async Task<(string? Subject, string? From)> HeaderOfAsync(IMessageBlobGrain blobs, BlobRef blob)
    {
        var bytes = await blobs.ReadRange(blob, 0, HeaderBytes);
        if (bytes is not { } b) return (null, null);
        try
        {
            using var stream = new MemoryStream(b.Value);
            var headers = HeaderList.Load(stream);
            return (headers[HeaderId.Subject], headers[HeaderId.From]);
        }
        catch (FormatException)
        {
            return (null, null);
        }
    }

    private static async Task<Results<Ok<List<RestoredMessageResponse>>, ProblemHttpResult>> RestoreAsync(
        RestoreRequest? body, Func<IReadOnlyList<long>, Task<RestoreResult>> restore)
    {
        if (body?.Ids is not { Count: > 0 } ids) return ApiProblem.BadRequest("No ids", "ids: the ids GET .../deleted lists");
        if (ids.Count > MaxIds) return ApiProblem.BadRequest("Too many ids", $"at most {MaxIds}");
        var result = await restore(ids);
        return result.Status switch
        {
            RestoreStatus.Ok => TypedResults.Ok(result.Restored.Select(r => new RestoredMessageResponse(r.Id, r.Folder, r.UidValidity, r.Uid)).ToList()),
            RestoreStatus.NoSuchMailbox => ApiProblem.NotFound("No such mailbox"),
            RestoreStatus.OverQuota => ApiProblem.Of(StatusCodes.Status409Conflict, "Over quota", "the restored messages would not fit in the quota"),
            _ => ApiProblem.Of(StatusCodes.Status409Conflict, "Not recoverable", "an id is unknown, restored already or past the recovery window"),
        };
    }

    private static async Task<Results<Ok<RecoveryPolicyResponse>, ProblemHttpResult>> GetPolicy(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        return TypedResults.Ok(new RecoveryPolicyResponse(d, await grains.GetGrain<IDeletedMailAdminGrain>(0).GetRecoveryDays(d)));
    }

    private static async Task<Results<Ok<RecoveryPolicyResponse>, ProblemHttpResult>> SetPolicy(
        string domain, RecoveryPolicyRequest? body, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        if (body?.RecoveryDays is not int days || days is < 0 or > 3650) return ApiProblem.BadRequest("Invalid recoveryDays", "0 to 3650");
        await grains.GetGrain<IDeletedMailAdminGrain>(0).SetRecoveryDays(d, days, Actor(http));
        return TypedResults.Ok(new RecoveryPolicyResponse(d, days));
    }

    private static DeletedMailActor Actor(HttpContext http)
    {
        var caller = AdminCaller.Of(http);
        var (actor, role) = caller is null || caller.IsSuper
            ? ("super", "super")
            : (caller.Account ?? "unknown", caller.Roles.Count == 0 ? "user" : string.Join(",", caller.Roles.Select(AdminCaller.RoleText)));
        return new DeletedMailActor(actor, role, http.Connection.RemoteIpAddress?.ToString() ?? "");
    }
}
