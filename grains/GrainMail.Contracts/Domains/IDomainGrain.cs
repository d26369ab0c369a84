using Orleans.Concurrency;

namespace GrainMail.Contracts.Domains;

/// <summary>
/// One hosted mail domain, keyed by its normalised name: its settings, its accounts and
/// its aliases. It is the one writer of the domain's membership lists, so creating or
/// deleting an account goes through it.
/// </summary>
public partial interface IDomainGrain : GrainMail.Contracts.Regions.ILocatableGrain
{
    [Retryable]
    Task<DomainInfo?> GetInfo();

    /// <summary>Creates the domain; <see cref="DomainOpStatus.AlreadyExists"/> when it exists.</summary>
    Task<DomainOpStatus> Create(DomainSettings settings);

    Task<DomainOpStatus> UpdateSettings(DomainSettings settings);

    /// <summary>Deletes an empty domain; <see cref="DomainOpStatus.NotEmpty"/> while it still has accounts or mailing lists.</summary>
    Task<DomainOpStatus> Delete();

    Task<DomainOpResult> CreateAccount(NewAccount account);

    Task<DomainOpStatus> DeleteAccount(string localPart);

    [Retryable]
    Task<IReadOnlyList<string>> ListAccounts();

    Task<DomainOpStatus> SetAlias(string alias, IReadOnlyList<string> targets);

    Task<DomainOpStatus> DeleteAlias(string alias);

    [Retryable]
    Task<IReadOnlyList<AliasInfo>> ListAliases();

    /// <summary>
    /// The recipient policy, in one read-only call: where mail of <paramref name="size"/> bytes
    /// (0 when not known yet) for <c>localPart@domain</c> goes, and whether it may. Aliases are
    /// followed (one hop into another hosted domain), disabled accounts and full mailboxes are
    /// left out, and the answer says why when nothing is left. SMTP RCPT, the admin API and
    /// delivery all ask this. Interleaves: it only reads, and an alias hop into another domain
    /// must not deadlock when two domains alias each other.
    /// </summary>
    [Retryable, AlwaysInterleave, Orleans.ResponseTimeout(CallTimeouts.RcptRead)]
    Task<RecipientVerdict> Resolve(string localPart, long size);

    /// <summary>
    /// Like <see cref="Resolve"/>, from this domain's own accounts and aliases only (targets in
    /// other domains are dropped): the one hop another domain's alias may take into this one.
    /// </summary>
    [Retryable, AlwaysInterleave, Orleans.ResponseTimeout(CallTimeouts.RcptRead)]
    Task<RecipientVerdict> ResolveWithin(string localPart, long size);

    /// <summary>
    /// The account's SieveGrain, after every change of its scripts: whether the active script (or one
    /// it includes) uses ereject (RFC 5429), so that verdicts name the account for a run before DATA's reply.
    /// </summary>
    Task SetProtocolReject(string localPart, bool uses);

    /// <summary>
    /// The account's SieveGrain, after a change of its scripts failed in the database (it may have landed unseen): the
    /// account counts as one whose script may ereject until the domain has read the scripts again.
    /// </summary>
    Task ProtocolRejectUnsure(string localPart);

    /// <summary>Turns an account on or off; a disabled account receives nothing and cannot log in.</summary>
    Task<DomainOpStatus> SetAccountEnabled(string localPart, bool enabled);

    /// <summary>
    /// A mailbox near or back from its quota tells its domain (one-way), so that RCPT can refuse
    /// mail that will not fit without asking the mailbox.
    /// </summary>
    [OneWay]
    Task ReportUsage(string localPart, long usedBytes, long limitBytes);

    /// <summary>The DNS records the domain must publish: MX, SPF, DKIM (every key), DMARC, MTA-STS. Null when the domain does not exist.</summary>
    [Retryable]
    Task<IReadOnlyList<DnsRecord>?> GetDnsRecords();

    /// <summary>Looks each record up and says whether it is published as it should be.</summary>
    Task<IReadOnlyList<DnsRecordCheck>?> CheckDnsRecords();

    /// <summary>New DKIM keys become active; the old ones stop signing (keep their records a few days).</summary>
    Task<IReadOnlyList<DnsRecord>?> RotateDkim();

    // ---- directory (departments and account attributes; rows in directory_department / directory_account) ----

    /// <summary>A department under <paramref name="parentId"/> (the root when null); 400 beyond 13 levels, 409 for a sibling's name.</summary>
    Task<DepartmentOpResult> CreateDepartment(string name, long? parentId);

    /// <summary>Renames and/or moves a department with its subtree (one transaction); cycles and a 14th level are refused.</summary>
    Task<DepartmentOpResult> UpdateDepartment(long id, string? name, long? parentId);

    /// <summary>Deletes an empty department (no sub-departments, no accounts): <see cref="DomainOpStatus.NotEmpty"/> otherwise.</summary>
    Task<DepartmentOpResult> DeleteDepartment(long id);

    /// <summary>Changes the given attributes of an account (enabled and quota act on the account and mailbox too).</summary>
    Task<DomainOpResult> UpdateAccount(string localPart, AccountAttributes changes);

    /// <summary>Creates or updates accounts of a CSV import in multi-row statements; departments named by path are created as needed.</summary>
    Task<ImportOutcome> Import(IReadOnlyList<ImportRow> rows, bool dryRun);

    /// <summary>One action on a selection of accounts.</summary>
    Task<BulkOutcome> Bulk(IReadOnlyList<string> localParts, BulkAction action, long? departmentId, long? quotaBytes);

    /// <summary>What an account may do across the domain's border; null when it is no account here. Read by SMTP RCPT.</summary>
    [Retryable, AlwaysInterleave, Orleans.ResponseTimeout(CallTimeouts.RcptRead)]
    Task<AccountPolicy?> GetAccountPolicy(string localPart);
}

/// <summary>Whether an account may send mail outside its domain and receive mail from outside.</summary>
[GenerateSerializer, Immutable]
public sealed record AccountPolicy(
    [property: Id(0)] bool MaySendExternal,
    [property: Id(1)] bool MayReceiveExternal);

[GenerateSerializer, Immutable]
public sealed record DomainSettings(
    [property: Id(0)] string HomeRegion,
    [property: Id(1)] long DefaultQuotaBytes,
    [property: Id(2)] long MaxMessageBytes,
    [property: Id(3)] string? CatchAllTarget,
    [property: Id(4)] string? PostmasterTarget = null,
    [property: Id(10)] int? AccountAliasLimit = null,
    [property: Id(30)] ForwardingPolicy? Forwarding = null)
{
    public const long DefaultQuota = 2L * 1024 * 1024 * 1024;
    public const long DefaultMaxMessage = 50L * 1024 * 1024;

    public static DomainSettings Default(string homeRegion) =>
        new(homeRegion, DefaultQuota, DefaultMaxMessage, null);
}

[GenerateSerializer, Immutable]
public sealed record DomainInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] DomainSettings Settings,
    [property: Id(2)] int AccountCount,
    [property: Id(3)] int AliasCount,
    [property: Id(4)] DateTimeOffset CreatedAt);

[GenerateSerializer, Immutable]
public sealed record NewAccount(
    [property: Id(0)] string LocalPart,
    [property: Id(1)] string Password,
    [property: Id(2)] string? DisplayName,
    [property: Id(3)] long? QuotaBytes,
    [property: Id(4)] AccountAttributes? Attributes = null);

[GenerateSerializer, Immutable]
public sealed record AliasInfo(
    [property: Id(0)] string Address,
    [property: Id(1)] IReadOnlyList<string> Targets);

/// <summary>What an alias may hold; the admin API checks it first so that it can say which rule was broken.</summary>
public static class AliasLimits
{
    /// <summary>One message to an alias fans out to every target: bounded like RCPT TO per transaction.</summary>
    public const int MaxTargets = 1000;
}

public enum DomainOpStatus
{
    Ok,
    NotFound,
    AlreadyExists,
    NotEmpty,
    Invalid,
}

[GenerateSerializer, Immutable]
public sealed record DomainOpResult(
    [property: Id(0)] DomainOpStatus Status,
    [property: Id(1)] string? Detail = null)
{
    public static readonly DomainOpResult Ok = new(DomainOpStatus.Ok);
}

/// <summary>What the recipient policy decided for one address.</summary>
public enum RecipientStatus
{
    /// <summary>Not a hosted domain: the address is external (relay rules are the caller's).</summary>
    External,

    /// <summary>Accepted: <see cref="RecipientVerdict.Mailboxes"/> and/or <see cref="RecipientVerdict.External"/> take it.</summary>
    Accepted,

    NoSuchUser,

    /// <summary>Every account it reaches is disabled.</summary>
    Disabled,

    /// <summary>Every mailbox it reaches is full (for a message of the size asked about).</summary>
    MailboxFull,

    /// <summary>Larger than the domain's message size limit.</summary>
    TooLarge,

    /// <summary>An alias (or catch-all) whose only targets are outside, where the domain's forwarding policy forbids automatic forwarding.</summary>
    ForwardingRefused,
}

/// <param name="Mailboxes">Local mailboxes that take the message.</param>
/// <param name="External">Addresses outside every hosted domain that an alias forwards to.</param>
/// <param name="MaxMessageBytes">The recipient domain's message size limit; 0 when not hosted.</param>
/// <param name="InternalOnly">Those of <paramref name="Mailboxes"/> whose accounts take mail only from senders of their own domain.</param>
/// <param name="List">A mailing list (the address as accepted, perhaps with an approve/reject tag): the message goes to the list's stream.</param>
[GenerateSerializer, Immutable]
public sealed record RecipientVerdict(
    [property: Id(0)] RecipientStatus Status,
    [property: Id(1)] IReadOnlyList<string> Mailboxes,
    [property: Id(2)] IReadOnlyList<string> External,
    [property: Id(3)] long MaxMessageBytes = 0,
    [property: Id(4)] IReadOnlyList<string>? InternalOnly = null,
    [property: Id(10)] string? List = null,
    [property: Id(11)] IReadOnlyList<string>? ProtocolReject = null)
{
    public static readonly RecipientVerdict NotHosted = new(RecipientStatus.External, [], []);

    public bool Hosted => Status != RecipientStatus.External;

    public bool Accepted => Status == RecipientStatus.Accepted;
}

[GenerateSerializer, Immutable]
public sealed record DnsRecord(
    [property: Id(0)] string Type,
    [property: Id(1)] string Name,
    [property: Id(2)] string Value,
    [property: Id(3)] string Purpose);

[GenerateSerializer, Immutable]
public sealed record DnsRecordCheck(
    [property: Id(0)] DnsRecord Record,
    [property: Id(1)] string Status,
    [property: Id(2)] IReadOnlyList<string> Found);
