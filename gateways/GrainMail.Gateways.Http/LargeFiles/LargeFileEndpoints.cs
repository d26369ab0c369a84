using System.Globalization;
using GrainMail.Contracts.LargeFiles;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace GrainMail.Gateways.Http.LargeFiles;

/// <param name="Name">The file's name as the recipient will see it.</param>
/// <param name="Type">Its media type (default application/octet-stream).</param>
/// <param name="Size">Its exact length in bytes (0 to 3 GiB).</param>
public sealed record LargeFileCreateRequest(string? Name, string? Type, long? Size);

/// <param name="UploadUrl">Where the pieces go (PATCH) and the offset is asked (HEAD).</param>
/// <param name="DownloadUrl">The link for the mail; answers once the upload is complete, until <paramref name="Expires"/>.</param>
public sealed record LargeFileStatus(Guid Id, string Name, string Type, long Size, long Received, bool Complete,
    string UploadUrl, string DownloadUrl, DateTimeOffset? Expires);

/// <summary>
/// Large attachments by link (seed 4.1.3), on the users' HTTPS listener. The upload protocol is
/// GrainMail's own, modelled on tus 1.0 (docs/architecture.md, "Large attachments by link"):
/// <c>POST /jmap/large</c> (JSON name, type, size) creates the upload → 201 + Location;
/// <c>PATCH</c> that location with <c>Upload-Offset</c> and <c>application/offset+octet-stream</c>
/// carries up to 16 MiB → 204 + the new <c>Upload-Offset</c> (409 with the right offset when the
/// client is wrong); <c>HEAD</c> tells the offset to resume from. The bytes are streamed in 256 KiB
/// pieces to the silos, which seal and store each at once, so no file is ever held in memory and an
/// interrupted request keeps what arrived. Downloads (<c>/jmap/large/d/{token}</c>) need no account:
/// the unguessable token is the credential; they honour Range (206/416); an expired link is 410,
/// an unknown one 404.
/// </summary>
public static class LargeFileEndpoints
{
    public const string Prefix = "/jmap/large";
    public const string OffsetHeader = "Upload-Offset";
    public const string LengthHeader = "Upload-Length";
    public const string PatchContentType = "application/offset+octet-stream";

    // One grain call per slice of a download (the reader caps a call at 1 MiB).
    private const int DownloadSlice = 1024 * 1024;

    public static void MapLargeFiles(this IEndpointRouteBuilder app)
    {
        var uploads = app.MapGroup(Prefix).RequireAuthorization(AccountAuth.Policy).ExcludeFromDescription();
        uploads.MapPost("", Create);
        uploads.MapMethods("/{id:guid}", [HttpMethods.Head], Offset);
        uploads.MapGet("/{id:guid}", Status);
        uploads.MapPatch("/{id:guid}", Patch);
        uploads.MapDelete("/{id:guid}", Delete);
        app.MapMethods(Prefix + "/d/{token}/{name?}", [HttpMethods.Get, HttpMethods.Head], Download).AllowAnonymous().ExcludeFromDescription();
    }

    private static async Task<IResult> Create(LargeFileCreateRequest? body, HttpContext http, IGrainFactory grains)
    {
        var name = body?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > LargeFileLimits.MaxNameLength || name.Any(char.IsControl) || name.IndexOfAny(['/', '\\']) >= 0)
            return Problem(StatusCodes.Status400BadRequest, "Invalid name", $"a file name of 1 to {LargeFileLimits.MaxNameLength} characters, without / \\ or control characters");
        var type = string.IsNullOrWhiteSpace(body!.Type) ? "application/octet-stream" : body.Type.Trim();
        if (!MediaTypeHeaderValue.TryParse(type, out _) || type.Length > 200) return Problem(StatusCodes.Status400BadRequest, "Invalid type", "a media type such as application/pdf");
        if (body.Size is not long size || size < 0) return Problem(StatusCodes.Status400BadRequest, "Invalid size", "the file's length in bytes");
        if (size > LargeFileLimits.MaxFileBytes)
            return Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"at most {LargeFileLimits.MaxFileBytes} bytes (3 GiB)");
        var id = Guid.NewGuid();
        var created = await grains.GetGrain<ILargeFileGrain>(id).Create(http.User.Address(), name, type, size);
        return created.Status switch
        {
            LargeFileCreateStatus.Created => Results.Created($"{Prefix}/{id:N}", ToStatus(http, created.File!)),
            LargeFileCreateStatus.TooManyOpen => Problem(StatusCodes.Status429TooManyRequests, "Too many unfinished uploads",
                $"finish or delete one of the {LargeFileLimits.MaxOpenUploads} open uploads first"),
            _ => Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"at most {LargeFileLimits.MaxFileBytes} bytes"),
        };
    }

    private static async Task<IResult> Offset(Guid id, HttpContext http, IGrainFactory grains)
    {
        if (await grains.GetGrain<ILargeFileGrain>(id).Status(http.User.Address()) is not { } file) return Results.NotFound();
        SetUploadHeaders(http, file.Received, file.Length);
        return Results.Ok();
    }

    private static async Task<IResult> Status(Guid id, HttpContext http, IGrainFactory grains)
    {
        if (await grains.GetGrain<ILargeFileGrain>(id).Status(http.User.Address()) is not { } file)
            return Problem(StatusCodes.Status404NotFound, "No such upload", null);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Ok(ToStatus(http, file));
    }

    private static async Task<IResult> Delete(Guid id, HttpContext http, IGrainFactory grains) =>
        await grains.GetGrain<ILargeFileGrain>(id).Delete(http.User.Address()) ? Results.NoContent() : Problem(StatusCodes.Status404NotFound, "No such upload", null);

    private static async Task<IResult> Patch(Guid id, HttpContext http, IGrainFactory grains)
    {
        var account = http.User.Address();
        var grain = grains.GetGrain<ILargeFileGrain>(id);
        if (!string.Equals(http.Request.ContentType, PatchContentType, StringComparison.OrdinalIgnoreCase))
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Wrong content type", $"send the bytes as {PatchContentType}");
        if (!long.TryParse(http.Request.Headers[OffsetHeader].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            return Problem(StatusCodes.Status400BadRequest, "Upload-Offset missing", "name the offset the bytes start at (HEAD tells it)");
        if (await grain.Status(account) is not { } file) return Problem(StatusCodes.Status404NotFound, "No such upload", null);
        if (file.Complete) return Problem(StatusCodes.Status409Conflict, "Upload complete", "the file has all its bytes");
        if (offset != file.Received)
        {
            SetUploadHeaders(http, file.Received, file.Length);
            return Problem(StatusCodes.Status409Conflict, "Wrong offset", $"the upload stands at {file.Received}; resume from there");
        }
        var declared = http.Request.ContentLength;
        if (declared > LargeFileLimits.MaxPatchBytes)
            return Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"at most {LargeFileLimits.MaxPatchBytes} bytes per request");
        if (offset + declared > file.Length)
            return Problem(StatusCodes.Status413PayloadTooLarge, "Past the end", $"the file is {file.Length} bytes; {file.Length - offset} remain");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = LargeFileLimits.MaxPatchBytes;

        // Pieces of 256 KiB go to the silo one after the other; the buffer is reused (each call is
        // awaited before the next read), so a request costs one piece of memory, whatever its size.
        var buffer = new byte[LargeFileLimits.PieceBytes];
        var filled = 0;
        var position = offset;
        AppendResult? refused = null;
        var body = http.Request.Body;
        try
        {
            while (true)
            {
                var read = await body.ReadAsync(buffer.AsMemory(filled), http.RequestAborted);
                if (read == 0) break;
                filled += read;
                if (filled < buffer.Length) continue;
                if ((refused = await SendAsync(buffer, filled)) is not null) break;
                filled = 0;
            }
            if (refused is null && filled > 0) refused = await SendAsync(buffer, filled);
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // The client went away (or sent too much): what arrived is kept, and HEAD will say so.
            if (filled > 0) await SendAsync(buffer, filled);
            if (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                SetUploadHeaders(http, position, file.Length);
                return Problem(StatusCodes.Status413PayloadTooLarge, "Request too large", $"at most {LargeFileLimits.MaxPatchBytes} bytes per request; stored up to {position}");
            }
            return Results.Empty;
        }
        SetUploadHeaders(http, position, file.Length);
        return refused?.Status switch
        {
            null => Results.NoContent(),
            AppendStatus.PastEnd => Problem(StatusCodes.Status413PayloadTooLarge, "Past the end", $"the file is {file.Length} bytes; stored up to {position}"),
            AppendStatus.NoSuchFile => Problem(StatusCodes.Status404NotFound, "No such upload", null),
            _ => Problem(StatusCodes.Status409Conflict, "Wrong offset", $"the upload stands at {refused.Received}; resume from there"),
        };

        async Task<AppendResult?> SendAsync(byte[] data, int count)
        {
            var piece = count == data.Length ? data : data.AsSpan(0, count).ToArray();
            var result = await grain.Append(account, position, new Orleans.Concurrency.Immutable<byte[]>(piece));
            if (result.Status != AppendStatus.Appended) return result;
            position = result.Received;
            return null;
        }
    }

    private static async Task Download(string token, HttpContext http, IGrainFactory grains)
    {
        var response = http.Response;
        var reader = grains.GetGrain<ILargeFileReaderGrain>(0);
        var target = token.Length is > 0 and <= 100 ? await reader.Resolve(token) : new LinkTarget(LinkStatus.NotFound, Guid.Empty, "", "", 0, null);
        if (target.Status != LinkStatus.Found)
        {
            await Problem(target.Status == LinkStatus.Expired ? StatusCodes.Status410Gone : StatusCodes.Status404NotFound,
                target.Status == LinkStatus.Expired ? "Link expired" : "No such file",
                target.Status == LinkStatus.Expired ? $"the link expired on {target.Expires:yyyy-MM-dd HH:mm} UTC; ask the sender for a new one" : null).ExecuteAsync(http);
            return;
        }
        var etag = $"\"{target.FileId:N}\"";
        var rangeHeader = http.Request.Headers.Range.ToString();
        // If-Range (RFC 9110 13.1.5): resume only if the file is still the one the client started.
        if (http.Request.Headers.IfRange.ToString() is { Length: > 0 } ifRange && ifRange != etag) rangeHeader = "";
        var range = ByteRangeHeader.Parse(rangeHeader, target.Length);
        response.Headers.AcceptRanges = "bytes";
        response.Headers.ETag = etag;
        response.Headers.CacheControl = "private";
        response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = target.Name }.ToString();
        if (range.Kind == RangeKind.Unsatisfiable)
        {
            response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
            response.Headers.ContentRange = $"bytes */{target.Length}";
            return;
        }
        response.ContentType = target.ContentType;
        long first = 0, count = target.Length;
        if (range.Kind == RangeKind.Partial)
        {
            response.StatusCode = StatusCodes.Status206PartialContent;
            response.Headers.ContentRange = $"bytes {range.First}-{range.Last}/{target.Length}";
            (first, count) = (range.First, range.Length);
        }
        response.ContentLength = count;
        if (HttpMethods.IsHead(http.Request.Method)) return;
        var position = first;
        var end = first + count;
        while (position < end)
        {
            var slice = (await reader.Read(target.FileId, position, (int)Math.Min(DownloadSlice, end - position))).Value;
            if (slice.Length == 0) break;
            await response.Body.WriteAsync(slice, http.RequestAborted);
            position += slice.Length;
        }
    }

    private static void SetUploadHeaders(HttpContext http, long offset, long length)
    {
        http.Response.Headers[OffsetHeader] = offset.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers[LengthHeader] = length.ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.CacheControl = "no-store";
    }

    private static LargeFileStatus ToStatus(HttpContext http, LargeFileInfo f)
    {
        var origin = $"{http.Request.Scheme}://{http.Request.Host}";
        return new LargeFileStatus(f.Id, f.Name, f.ContentType, f.Length, f.Received, f.Complete, $"{origin}{Prefix}/{f.Id:N}",
            $"{origin}{Prefix}/d/{f.Link}/{Uri.EscapeDataString(f.Name)}", f.Expires);
    }

    private static IResult Problem(int status, string title, string? detail) => Results.Problem(detail, statusCode: status, title: title);
}
