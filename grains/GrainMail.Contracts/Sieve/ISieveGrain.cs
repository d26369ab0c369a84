using Orleans.Concurrency;

namespace GrainMail.Contracts.Sieve;

/// <summary>
/// One account's Sieve scripts (RFC 5228), keyed by the account address: what ManageSieve
/// (RFC 5804) and the user API manage. Every upload is parsed and validated here, so a broken
/// script never gets stored; the mailbox is told when the scripts change.
/// </summary>
public interface ISieveGrain : IGrainWithStringKey
{
    [Retryable]
    Task<IReadOnlyList<SieveScriptInfo>> List();

    /// <summary>The script's text, or null when there is none of that name.</summary>
    [Retryable]
    Task<string?> Get(string name);

    /// <summary>Validates and stores (RFC 5804 2.6); refused with the line and reason when broken or beyond the limits.</summary>
    Task<SieveOpResult> Put(string name, string content);

    /// <summary>Validates only (RFC 5804 2.12).</summary>
    [Retryable]
    Task<SieveOpResult> Check(string content);

    /// <summary>Makes a script the active one; the empty name deactivates (RFC 5804 2.8).</summary>
    Task<SieveOpResult> SetActive(string name);

    /// <summary>Deletes a script; the active one is refused (RFC 5804 2.10).</summary>
    Task<SieveOpResult> Delete(string name);

    Task<SieveOpResult> Rename(string from, string to);

    /// <summary>
    /// Whether the active script (or one it includes) uses <c>ereject</c> (RFC 5429 2.1.1): only then
    /// is it worth running it on a message before the SMTP reply.
    /// </summary>
    [Retryable]
    Task<bool> UsesProtocolReject();

    /// <summary>
    /// Runs the active script on a message still in the SMTP dialogue; the reason when it ends in
    /// <c>ereject</c>, so the server refuses with 550 instead of bouncing later. Null otherwise.
    /// </summary>
    [Retryable]
    Task<string?> ProtocolReject(string? sender, string recipient, Immutable<byte[]> message);

    /// <summary>Whether a script of that name and size would fit (RFC 5804 2.5).</summary>
    [Retryable]
    Task<SieveOpResult> HaveSpace(string name, long size);
}

[GenerateSerializer, Immutable]
public sealed record SieveScriptInfo([property: Id(0)] string Name, [property: Id(1)] bool Active, [property: Id(2)] long Size);

public enum SieveOpStatus
{
    Ok,
    NotFound,
    /// <summary>The script does not parse or validate; <see cref="SieveOpResult.Reason"/> holds "line N: why".</summary>
    Invalid,
    /// <summary>The target name is taken (RENAMESCRIPT).</summary>
    Exists,
    /// <summary>The active script cannot be deleted (RFC 5804 2.10: ACTIVE).</summary>
    Active,
    /// <summary>Beyond the size or count limit (RFC 5804 QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS).</summary>
    TooLarge,
    TooMany,
    InvalidName,
}

[GenerateSerializer, Immutable]
public sealed record SieveOpResult([property: Id(0)] SieveOpStatus Status, [property: Id(1)] string? Reason = null)
{
    public static readonly SieveOpResult Ok = new(SieveOpStatus.Ok);
}

/// <summary>What a user may store: explicit limits that ManageSieve announces (RFC 5804 1.7: MAXREDIRECTS etc.).</summary>
public static class SieveQuota
{
    public const int MaxScripts = 20;
    public const int MaxScriptBytes = 64 * 1024;
    public const int MaxRedirects = 4;
}
