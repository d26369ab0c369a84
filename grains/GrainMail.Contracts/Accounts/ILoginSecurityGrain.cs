namespace GrainMail.Contracts.Accounts;

/// <summary>One row of the login history.</summary>
/// <param name="ActingFor">The mailbox a delegated login acted for ("B for A": Account B, ActingFor A).</param>
/// <param name="Result">success, or the refusal (bad-credentials, locked-out, address-not-allowed, …).</param>
[GenerateSerializer, Immutable]
public sealed record LoginRecordInfo(
    [property: Id(0)] long Id,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Account,
    [property: Id(3)] string? ActingFor,
    [property: Id(4)] string Channel,
    [property: Id(5)] string ClientIp,
    [property: Id(6)] string? ClientName,
    [property: Id(7)] string Result,
    [property: Id(8)] string? Reason,
    [property: Id(9)] string? Country,
    [property: Id(10)] string? Region,
    [property: Id(11)] string? City);

/// <summary>A login allow-list entry; <paramref name="DepartmentId"/> null is the whole domain.</summary>
[GenerateSerializer, Immutable]
public sealed record LoginIpRuleInfo(
    [property: Id(0)] long Id,
    [property: Id(1)] string Domain,
    [property: Id(2)] long? DepartmentId,
    [property: Id(3)] string Network,
    [property: Id(4)] string? Note,
    [property: Id(5)] string CreatedBy,
    [property: Id(6)] DateTimeOffset CreatedAt);

public enum LoginRuleStatus
{
    Added,
    Exists,
    InvalidNetwork,
    NoSuchDepartment,
}

[GenerateSerializer, Immutable]
public sealed record LoginRuleResult([property: Id(0)] LoginRuleStatus Status, [property: Id(1)] LoginIpRuleInfo? Rule = null);

/// <summary>An admin or user API bearer session; <paramref name="Id"/> names it for revocation.</summary>
[GenerateSerializer, Immutable]
public sealed record WebSessionInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] string Kind,
    [property: Id(2)] DateTimeOffset CreatedAt,
    [property: Id(3)] DateTimeOffset LastUsedAt,
    [property: Id(4)] DateTimeOffset ExpiresAt);

/// <summary>
/// Reads and writes of login security that are not one account's: login history pages, the IP
/// allow-lists, API sessions. A stateless worker (key 0) on the caller's silo: gateways hold no
/// database credentials.
/// </summary>
public interface ILoginSecurityGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<LoginRecordInfo>> Logins(string? account, string? domain, long? departmentId, long? beforeId, int limit);

    Task<IReadOnlyList<LoginIpRuleInfo>> Rules(string domain);

    Task<LoginRuleResult> AddRule(string domain, long? departmentId, string network, string? note, SecurityActor actor);

    Task<LoginIpRuleInfo?> DeleteRule(string domain, long id, SecurityActor actor);

    Task<IReadOnlyList<WebSessionInfo>> WebSessions(string account);

    Task<bool> EndWebSession(string account, string id, SecurityActor actor);

    /// <summary>Ends one open IMAP/POP3 session of the account (audited); false when it has no such session.</summary>
    Task<bool> EndMailSession(string account, Guid id, SecurityActor actor);
}
