using GrainMail.Contracts;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Mailbox;

public sealed record QuotaRequest(long? QuotaBytes);

/// <summary>An account's mailbox quota, set by an administrator (takes effect for the next message).</summary>
public static class QuotaEndpoints
{
    public static void MapQuota(this RouteGroupBuilder api) =>
        api.MapPut("/accounts/{address}/quota", SetQuota).WithTags("Mailbox").Writes(ScopeResource.Account);

    private static async Task<Results<NoContent, ProblemHttpResult>> SetQuota(string address, QuotaRequest? body, IGrainFactory grains)
    {
        if (body?.QuotaBytes is not > 0) return ApiProblem.BadRequest("Body must be {\"quotaBytes\": n} with n > 0");
        var a = MailAddress.Normalize(address);
        if (a is null) return ApiProblem.BadRequest("Invalid address", address);
        var mailbox = grains.GetGrain<IMailboxGrain>(a);
        if (!await mailbox.Exists()) return ApiProblem.NoSuchAccount(a);
        // Through the domain, which records it in the directory and sets the mailbox's; directly for a mailbox without a directory row.
        var r = await grains.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>(MailAddress.DomainOf(a))
            .UpdateAccount(MailAddress.LocalPartOf(a), new GrainMail.Contracts.Domains.AccountAttributes(QuotaBytes: body.QuotaBytes.Value));
        if (r.Status != GrainMail.Contracts.Domains.DomainOpStatus.Ok) await mailbox.SetQuota(body.QuotaBytes.Value);
        return TypedResults.NoContent();
    }
}
