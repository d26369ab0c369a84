using GrainMail.Contracts;
using GrainMail.Contracts.Mailboxes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http;

/// <summary>An account's mailbox quota, set by an administrator (takes effect for the next message).</summary>
public static class QuotaEndpoints
{
    public sealed record QuotaRequest(long? QuotaBytes);

    public static void MapQuota(this RouteGroupBuilder api)
    {
        api.MapPut("/accounts/{address}/quota", async (string address, QuotaRequest? body, IGrainFactory grains) =>
        {
            if (body?.QuotaBytes is not > 0) return Results.Problem(statusCode: 400, title: "Body must be {\"quotaBytes\": n} with n > 0");
            var a = MailAddress.Normalize(address);
            if (a is null) return Results.Problem(statusCode: 400, title: "Invalid address", detail: address);
            var mailbox = grains.GetGrain<IMailboxGrain>(a);
            if (!await mailbox.Exists()) return Results.Problem(statusCode: 404, title: "No such account", detail: a);
            await mailbox.SetQuota(body.QuotaBytes.Value);
            return Results.NoContent();
        });
    }
}
