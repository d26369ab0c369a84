using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
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

    private static async Task UploadAsync(HttpContext http, string accountId, UploadStore uploads, JmapLimits limits, JmapConcurrency concurrency)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        if (JmapEndpoints.AccountsOf(http.User).All(a => a.Id != accountId))
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
        var data = await JmapEndpoints.ReadBodyAsync(http.Request, limits.MaxSizeUpload);
        if (data is null)
        {
            await JmapEndpoints.WriteProblemAsync(http, new JmapRequestError(JmapErrors.Limit, 413, $"The blob is larger than maxSizeUpload ({limits.MaxSizeUpload} octets)", "maxSizeUpload"));
            return;
        }
        var type = http.Request.ContentType is { Length: > 0 } t ? t : "application/octet-stream";
        var blobId = uploads.Add(accountId, type, data);
        await JmapEndpoints.WriteJsonAsync(http, 201, "application/json",
            new JsonObject { ["accountId"] = accountId, ["blobId"] = blobId, ["type"] = type, ["size"] = data.Length });
    }

    private static async Task DownloadAsync(HttpContext http, string accountId, string blobId, string name, MailViews views, BlobResolver blobs, IGrainFactory grains)
    {
        if (!await JmapEndpoints.RequireHttpsAsync(http)) return;
        var account = JmapEndpoints.AccountsOf(http.User).FirstOrDefault(a => a.Id == accountId);
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
