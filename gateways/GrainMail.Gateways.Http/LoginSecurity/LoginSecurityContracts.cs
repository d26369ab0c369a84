using GrainMail.Contracts.Accounts;

namespace GrainMail.Gateways.Http.LoginSecurity;

/// <summary>One login attempt. <paramref name="ActingFor"/> is set on a delegated login ("Account for ActingFor").</summary>
public sealed record LoginRecordResponse(long Id, DateTimeOffset At, string Account, string? ActingFor, string Channel, string ClientIp,
    string? ClientName, string Result, string? Reason, string? Country, string? Region, string? City)
{
    public static LoginRecordResponse From(LoginRecordInfo r) =>
        new(r.Id, r.At, r.Account, r.ActingFor, r.Channel, r.ClientIp, r.ClientName, r.Result, r.Reason, r.Country, r.Region, r.City);
}

/// <param name="Next">The <c>before</c> value of the next (older) page; null at the end.</param>
public sealed record LoginHistoryResponse(IReadOnlyList<LoginRecordResponse> Logins, long? Next);

public sealed record LoginIpRuleRequest(string? Network, long? DepartmentId, string? Note);

public sealed record LoginIpRuleResponse(long Id, string Domain, long? DepartmentId, string Network, string? Note, string CreatedBy, DateTimeOffset CreatedAt)
{
    public static LoginIpRuleResponse From(LoginIpRuleInfo r) => new(r.Id, r.Domain, r.DepartmentId, r.Network, r.Note, r.CreatedBy, r.CreatedAt);
}

/// <summary>
/// A session of the account: <c>api</c> (a bearer session of the admin or user API; <paramref name="Kind"/>
/// admin or user) or <c>mail</c> (an open IMAP or POP3 connection). Revoke with DELETE .../sessions/{id}.
/// </summary>
public sealed record AccountSessionResponse(string Id, string Type, string Kind, string? ClientIp, string? ActsFor, string? AppPassword,
    DateTimeOffset Since, DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt);

public sealed record AppPasswordResponse(string Name, DateTimeOffset CreatedAt);

public sealed record DelegationRequest(string? Delegate);

/// <summary>Owner lets Delegate log in to her mailbox (SASL authzid = Owner, with Delegate's own credentials).</summary>
public sealed record DelegationResponse(string Owner, string Delegate, string CreatedBy, DateTimeOffset CreatedAt)
{
    public static DelegationResponse From(DelegationInfo d) => new(d.Owner, d.Delegate, d.CreatedBy, d.CreatedAt);
}

public sealed record UnlockResponse(string Account, bool WasLocked);
