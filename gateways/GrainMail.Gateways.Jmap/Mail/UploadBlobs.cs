using GrainMail.Contracts.Uploads;
using Orleans.Concurrency;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// JMAP uploads (RFC 8620 6.1) in the blob store, through <see cref="IUploadGrain"/>: the body goes
/// to the grain in 256 KiB pieces as it arrives (never whole in the gateway), and a blob id
/// ("U" + the upload's id) is usable through every gateway, after restarts, until it expires.
/// </summary>
public sealed class UploadBlobs(IGrainFactory grains)
{
    public sealed record Upload(string Type, byte[] Data);

    /// <summary>The outcome of <see cref="StoreAsync"/>: the stored upload, or why there is none.</summary>
    public sealed record Stored(UploadStatus Status, UploadInfo? Info);

    public static string BlobId(Guid id) => "U" + id.ToString("N");

    public static Guid? IdOf(string blobId) =>
        blobId.Length == 33 && blobId[0] == 'U' && Guid.TryParseExact(blobId.AsSpan(1), "N", out var id) ? id : null;

    /// <summary>Streams <paramref name="body"/> into a new upload, stopping at the first piece over <paramref name="maxSize"/> or the account's quota.</summary>
    public async Task<Stored> StoreAsync(string account, string type, Stream body, long maxSize, CancellationToken ct)
    {
        var id = Guid.NewGuid();
        var grain = grains.GetGrain<IUploadGrain>(id);
        var begun = await grain.Begin(account, type);
        if (begun != UploadStatus.Ok) return new Stored(begun, null);
        var buffer = new byte[UploadLimits.PieceBytes];
        long offset = 0;
        try
        {
            while (true)
            {
                var filled = 0;
                int read;
                while (filled < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(filled), ct)) > 0) filled += read;
                if (filled == 0) break;
                var status = await grain.Append(account, offset, buffer[..filled].AsImmutable(), maxSize);
                if (status != UploadStatus.Ok)
                {
                    await grain.Abort(account);
                    return new Stored(status, null);
                }
                offset += filled;
                if (filled < buffer.Length) break;
            }
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            await grain.Abort(account);
            throw;
        }
        catch (OperationCanceledException)
        {
            // The client went away: the unfinished upload is dropped (the sweeper would take it otherwise).
            await grain.Abort(account);
            throw;
        }
        return new Stored(UploadStatus.Ok, await grain.Finish(account));
    }

    /// <summary>The bytes and type of an upload of <paramref name="account"/>, or null when unknown or expired.</summary>
    public async Task<Upload?> GetAsync(string account, string blobId)
    {
        if (IdOf(blobId) is not { } id) return null;
        var grain = grains.GetGrain<IUploadGrain>(id);
        if (await grain.Get(account) is not { } info) return null;
        var data = new byte[info.Size];
        long at = 0;
        while (at < info.Size)
        {
            var slice = (await grain.Read(account, at, 1024 * 1024)).Value;
            if (slice.Length == 0) return null;
            slice.CopyTo(data.AsSpan((int)at));
            at += slice.Length;
        }
        return new Upload(info.ContentType, data);
    }
}
