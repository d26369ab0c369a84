namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>A blob's bytes with its media type and, for a part, its file name.</summary>
public sealed record BlobContent(byte[] Data, string Type, string? Name);

/// <summary>
/// Blob ids (RFC 8620 6): "U…" an upload (in the blob store, see <see cref="UploadBlobs"/>); "B" + the Email id's digits the whole message (its
/// RFC 5322 bytes); "B…-{partId}" one body part, decoded. Message blobs are found through the
/// account's view, so a user reaches only blobs of messages in his own mailbox.
/// </summary>
public sealed class BlobResolver(UploadBlobs uploads, EmailStore store, IGrainFactory grains)
{
    public async Task<BlobContent?> ResolveAsync(string blobId, string accountId, MailView view)
    {
        if (blobId.StartsWith('U')) return await uploads.GetAsync(view.Address, blobId) is { } u ? new BlobContent(u.Data, u.Type, null) : null;
        if (!blobId.StartsWith('B') || blobId.Length < 2) return null;
        var dash = blobId.IndexOf('-');
        var emailId = "M" + blobId[1..(dash < 0 ? blobId.Length : dash)];
        var copies = view.Copies(emailId);
        if (copies.Count == 0 && dash < 0)
        {
            // A DSN or MDN a submission lists can be ahead of the view (listed at the report's submit, in the mailbox
            // once its delivery event is consumed): served from the store by what the submission recorded.
            var listed = await grains.GetGrain<GrainMail.Contracts.Jmap.IEmailSubmissionGrain>(view.Address).ReportBlob(blobId);
            return listed is null ? null : await store.LoadAsync(listed) is { } report ? new BlobContent(report.Raw, "message/rfc822", null) : null;
        }
        if (copies.Count == 0) return null;
        if (dash < 0) return await store.LoadAsync(copies[0]) is { } whole ? new BlobContent(whole.Raw, "message/rfc822", null) : null;
        var reader = await store.ReaderAsync(copies[0]);
        var part = reader?.AllParts().FirstOrDefault(p => p.PartId == blobId[(dash + 1)..]);
        return part is null ? null : new BlobContent(EmailReader.DecodedBytes(part.Entity), part.Type, EmailReader.Name(part.Entity));
    }
}
