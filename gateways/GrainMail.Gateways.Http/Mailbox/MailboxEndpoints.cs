using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Mailbox;

public sealed record QuotaResponse(long LimitBytes, long UsedBytes, int Messages);

/// <param name="SpecialUse">RFC 6154 attribute (<c>\Sent</c>, <c>\Trash</c>, …), or null.</param>
public sealed record FolderResponse(
    string Name, string? SpecialUse, int Messages, int Unseen, int Recent, long Bytes, long UidValidity, long UidNext, long HighestModSeq, bool Subscribed);

public sealed record MailboxResponse(string Address, QuotaResponse Quota, IReadOnlyList<FolderResponse> Folders);

/// <summary>GET /accounts/{address}/mailbox: folders with their counts, and the quota.</summary>
public static class MailboxEndpoints
{
    public static void MapMailbox(this RouteGroupBuilder api) =>
        api.MapGet("/accounts/{address}/mailbox", Get).WithTags("Mailbox").Reads(ScopeResource.Account, allowSelf: true);

    private static async Task<Results<Ok<MailboxResponse>, ProblemHttpResult>> Get(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var mailbox = grains.GetGrain<IMailboxGrain>(a);
        if (!await mailbox.Exists()) return ApiProblem.NoSuchAccount(a);
        var quota = await mailbox.GetQuota();
        var folders = await mailbox.ListFolders();
        return TypedResults.Ok(new MailboxResponse(
            a,
            new QuotaResponse(quota.LimitBytes, quota.UsedBytes, quota.Messages),
            folders.Select(f => new FolderResponse(
                f.Name, f.SpecialUse == SpecialUse.None ? null : "\\" + f.SpecialUse, f.Messages, f.Unseen, f.Recent, f.Bytes,
                f.UidValidity, f.UidNext, f.HighestModSeq, f.Subscribed)).ToList()));
    }
}
