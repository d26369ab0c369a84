using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>Blob upload and download (RFC 8620 6.1, 6.2) on the fixed paths of the session's uploadUrl and downloadUrl.</summary>
public static class BlobEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/jmap/upload/{accountId}/", UploadAsync).RequireAuthorization(Http.UserAuth.AccountAuth.Policy).ExcludeFromDescription();
        app.MapGet("/jmap/download/{accountId}/{blobId}/{name}", DownloadAsync).RequireAuthorization(Http.UserAuth.AccountAuth.Policy).ExcludeFromDescription();
    }

    private static async Task UploadAsync(HttpContext http, string accountId, UploadBlobs uploads, JmapLimits limits, JmapConcurrency concurrency)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        var account = (await JmapEndpoints.AccountsOfAsync(http.User, http.RequestServices.GetRequiredService<IGrainFactory>())).FirstOrDefault(a => a.Id == accountId);
        if (account is null)
        {
            await JmapEndpoints.WriteJsonAsync(http, 404, "application/problem+json", new JsonObject { ["type"] = "about:blank", ["status"] = 404, ["detail"] = "No such account for this user" });
            return;
        }
        using var slot = concurrency.TryEnter("up:" + JmapEndpoints.UsernameOf(http.User), limits.MaxConcurrentUpload);
        if (slot is null)
        {
            await JmapEndpoints.WriteProblemAsync(http, new JmapRequestError(JmapErrors.Limit, 429, $"More than maxConcurrentUpload ({limits.MaxConcurrentUpload}) uploads at once", "maxConcurrentUpload"));
            return;
        }
        var tooLarge = new JmapRequestError(JmapErrors.Limit, 413, $"The blob is larger than maxSizeUpload ({limits.MaxSizeUpload} octets)", "maxSizeUpload");
        // maxSizeUpload is enforced while the body streams into the blob store (never held whole):
        // a declared length over it is refused before anything is stored, an undeclared one at the
        // first piece past it. Either way the rest is read and dropped so the client gets the answer.
        if (http.Request.ContentLength > limits.MaxSizeUpload)
        {
            await JmapEndpoints.DrainAsync(http.Request, limits.MaxSizeUpload);
            await JmapEndpoints.WriteProblemAsync(http, tooLarge);
            return;
        }
        JmapEndpoints.RaiseBodyLimit(http.Request, limits.MaxSizeUpload);
        var type = http.Request.ContentType is { Length: > 0 } t ? t : "application/octet-stream";
        var stored = await uploads.StoreAsync(account.Address, type, http.Request.Body, limits.MaxSizeUpload, http.RequestAborted);
        switch (stored.Status)
        {
            case Contracts.Uploads.UploadStatus.Ok when stored.Info is { } info:
                await JmapEndpoints.WriteJsonAsync(http, 201, "application/json",
                    new JsonObject { ["accountId"] = accountId, ["blobId"] = UploadBlobs.BlobId(info.Id), ["type"] = info.ContentType, ["size"] = info.Size });
                return;
            case Contracts.Uploads.UploadStatus.OverQuota:
                await JmapEndpoints.DrainAsync(http.Request, limits.MaxSizeUpload);
                await JmapEndpoints.WriteJsonAsync(http, 413, "application/problem+json", new JsonObject
                {
                    ["type"] = "urn:ietf:params:jmap:error:limit",
                    ["status"] = 413,
                    ["limit"] = "uploadQuota",
                    ["detail"] = $"The account's unexpired uploads would pass {Contracts.Uploads.UploadLimits.AccountQuotaBytes} octets; use or wait out earlier ones",
                });
                return;
            default:
                await JmapEndpoints.DrainAsync(http.Request, limits.MaxSizeUpload);
                await JmapEndpoints.WriteProblemAsync(http, tooLarge);
                return;
        }
    }

    private static async Task DownloadAsync(HttpContext http, string accountId, string blobId, string name, MailViews views, BlobResolver blobs, IGrainFactory grains)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        var account = (await JmapEndpoints.AccountsOfAsync(http.User, http.RequestServices.GetRequiredService<IGrainFactory>())).FirstOrDefault(a => a.Id == accountId);
        BlobContent? blob = null;
        if (account is not null)
        {
            var view = views.Of(account.Address);
            using (await view.LockAsync(http.RequestAborted))
            {
                await view.RefreshAsync(grains.GetGrain<IMailboxGrain>(account.Address));
                blob = await blobs.ResolveAsync(blobId, accountId, view);
            }
        }
        if (blob is null)
        {
            await JmapEndpoints.WriteJsonAsync(http, 404, "application/problem+json", new JsonObject { ["type"] = "about:blank", ["status"] = 404, ["detail"] = "No such blob" });
            return;
        }
        var type = http.Request.Query["accept"].ToString() is { Length: > 0 } accept && MediaTypeHeaderValue.TryParse(accept, out _) ? accept : blob.Type;
        // Blob ids name immutable content (RFC 8620 6.2): caches may keep it; Range requests are served.
        http.Response.Headers.CacheControl = "private, immutable, max-age=31536000";
        var disposition = new ContentDispositionHeaderValue("attachment");
        disposition.SetHttpFileName(name);
        http.Response.Headers.ContentDisposition = disposition.ToString();
        await Results.Bytes(blob.Data, type, enableRangeProcessing: true).ExecuteAsync(http);
    }
}
