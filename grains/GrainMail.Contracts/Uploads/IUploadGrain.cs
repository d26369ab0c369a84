using Orleans.Concurrency;

namespace GrainMail.Contracts.Uploads;

/// <summary>The limits of JMAP blob uploads (RFC 8620 6.1) kept in the blob store.</summary>
public static class UploadLimits
{
    /// <summary>The storage piece: the gateway hands the body over in pieces of this size, each one grain call and one sealed row.</summary>
    public const int PieceBytes = 256 * 1024;

    /// <summary>How long an upload can be used. RFC 8620 6.1 asks for at least an hour; a day lets a draft's attachment wait over lunch.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    /// <summary>
    /// Bytes of live (unexpired) uploads one account may hold: a client cannot fill the store with uploads
    /// it never uses. 1 GiB unless <c>GRAINMAIL_JMAP_UPLOAD_QUOTA</c> (bytes) says otherwise, read once at start.
    /// </summary>
    public static readonly long AccountQuotaBytes = QuotaFromEnvironment();

    public const string QuotaVariable = "GRAINMAIL_JMAP_UPLOAD_QUOTA";

    private static long QuotaFromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable(QuotaVariable), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
            ? n : 1024L * 1024 * 1024;
}

/// <summary>An upload as its owner sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record UploadInfo(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Account,
    [property: Id(2)] string ContentType,
    [property: Id(3)] long Size,
    [property: Id(4)] DateTimeOffset Expires);

public enum UploadStatus
{
    Ok,
    /// <summary>No such upload for this account, or it expired.</summary>
    NotFound,
    /// <summary>The piece would take the upload past the size the caller allows (maxSizeUpload).</summary>
    TooLarge,
    /// <summary>The account's live uploads would pass <see cref="UploadLimits.AccountQuotaBytes"/>.</summary>
    OverQuota,
    /// <summary>The offset is not where the upload stands, or it is finished already.</summary>
    WrongOffset,
}

/// <summary>
/// One JMAP upload (key: its id). Single activation, so the pieces of one request land in order;
/// the rows are the state, so the blob outlives the gateway that took it and the silo that stored it.
/// </summary>
public interface IUploadGrain : IGrainWithGuidKey
{
    Task<UploadStatus> Begin(string account, string contentType);

    Task<UploadStatus> Append(string account, long offset, Immutable<byte[]> piece, long maxSize);

    /// <summary>Marks the upload complete; null when it is not this account's or not there.</summary>
    Task<UploadInfo?> Finish(string account);

    /// <summary>Drops an unfinished upload (the request broke off or went over a limit).</summary>
    Task Abort(string account);

    /// <summary>A complete, unexpired upload of this account; null otherwise.</summary>
    [Retryable]
    Task<UploadInfo?> Get(string account);

    /// <summary>At most <paramref name="count"/> bytes from <paramref name="offset"/> of a complete upload; empty past its end or when <see cref="Get"/> is null.</summary>
    [Retryable]
    Task<Immutable<byte[]>> Read(string account, long offset, int count);
}
