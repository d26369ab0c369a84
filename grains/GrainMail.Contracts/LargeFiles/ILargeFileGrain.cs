using Orleans.Concurrency;

namespace GrainMail.Contracts.LargeFiles;

/// <summary>The explicit limits of large attachments by link (seed 4.1.3).</summary>
public static class LargeFileLimits
{
    /// <summary>The largest file: 3 GiB.</summary>
    public const long MaxFileBytes = 3L * 1024 * 1024 * 1024;

    /// <summary>The most one PATCH request may carry; a client sends a larger file in several.</summary>
    public const int MaxPatchBytes = 16 * 1024 * 1024;

    /// <summary>The storage piece: a PATCH body is cut into pieces of this size, each one grain call and one sealed row.</summary>
    public const int PieceBytes = 256 * 1024;

    /// <summary>Link lifetime when the domain sets none.</summary>
    public const int DefaultLinkDays = 30;

    public const int MaxLinkDays = 3650;

    /// <summary>Uploads of one account that are not finished yet (a client that never finishes cannot fill the store).</summary>
    public const int MaxOpenUploads = 20;

    /// <summary>A file name's length in characters.</summary>
    public const int MaxNameLength = 255;
}

/// <summary>A large file's state as its owner sees it.</summary>
/// <param name="Link">The download token (the link's last path segment); valid once complete, until <paramref name="Expires"/>.</param>
[GenerateSerializer, Immutable]
public sealed record LargeFileInfo(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Account,
    [property: Id(2)] string Name,
    [property: Id(3)] string ContentType,
    [property: Id(4)] long Length,
    [property: Id(5)] long Received,
    [property: Id(6)] DateTimeOffset CreatedAt,
    [property: Id(7)] DateTimeOffset? CompletedAt,
    [property: Id(8)] DateTimeOffset? Expires,
    [property: Id(9)] string Link)
{
    public bool Complete => CompletedAt is not null;
}

public enum LargeFileCreateStatus
{
    Created,
    TooLarge,
    TooManyOpen,
}

[GenerateSerializer, Immutable]
public sealed record LargeFileCreated([property: Id(0)] LargeFileCreateStatus Status, [property: Id(1)] LargeFileInfo? File);

public enum AppendStatus
{
    Appended,
    NoSuchFile,
    /// <summary>The offset is not where the file stands (RFC-less, tus-like: the client asks HEAD and resumes there).</summary>
    WrongOffset,
    /// <summary>The piece would go past the declared length.</summary>
    PastEnd,
    AlreadyComplete,
}

[GenerateSerializer, Immutable]
public sealed record AppendResult([property: Id(0)] AppendStatus Status, [property: Id(1)] long Received, [property: Id(2)] bool Complete);

/// <summary>
/// One large file on its way in (key: the file's id). Single activation, one call at a time, so two
/// pieces for the same offset cannot both land; the state is in PostgreSQL, so an upload survives a
/// silo restart and resumes where its last stored piece ended.
/// </summary>
public interface ILargeFileGrain : IGrainWithGuidKey
{
    Task<LargeFileCreated> Create(string account, string name, string contentType, long length);

    /// <summary>Null when there is no such file, or it belongs to another account.</summary>
    Task<LargeFileInfo?> Status(string account);

    Task<AppendResult> Append(string account, long offset, Immutable<byte[]> piece);

    Task<bool> Delete(string account);
}

public enum LinkStatus
{
    Found,
    /// <summary>Unknown token, or the upload is not finished.</summary>
    NotFound,
    Expired,
}

[GenerateSerializer, Immutable]
public sealed record LinkTarget(
    [property: Id(0)] LinkStatus Status,
    [property: Id(1)] Guid FileId,
    [property: Id(2)] string Name,
    [property: Id(3)] string ContentType,
    [property: Id(4)] long Length,
    [property: Id(5)] DateTimeOffset? Expires);

/// <summary>Downloads by link, on any silo (stateless): many readers of one file do not queue behind its upload grain.</summary>
public interface ILargeFileReaderGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<LinkTarget> Resolve(string token);

    /// <summary>At most <paramref name="count"/> bytes from <paramref name="offset"/> of a complete file; empty past the end.</summary>
    [Retryable]
    Task<Immutable<byte[]>> Read(Guid fileId, long offset, int count);

    [Retryable]
    Task<int> LinkDays(string domain);

    Task SetLinkDays(string domain, int days);
}
