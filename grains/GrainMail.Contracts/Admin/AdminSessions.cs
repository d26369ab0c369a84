namespace GrainMail.Contracts.Admin;

public enum SessionKind
{
    /// <summary>From POST /sessions with the account's password: the account's roles apply.</summary>
    Admin,

    /// <summary>From a single sign-on ticket: the account's own user-level API only.</summary>
    User,
}

/// <param name="IdleTimeout">The session ends when unused this long (before <paramref name="ExpiresAt"/>).</param>
[GenerateSerializer, Immutable]
public sealed record SessionStarted(
    [property: Id(0)] DateTimeOffset ExpiresAt,
    [property: Id(1)] TimeSpan IdleTimeout);

/// <summary>
/// Who a valid session token belongs to, the roles it carries now, and what the account must do
/// first (<see cref="Restrictions"/>, read in the same check, so that a request needs no second call
/// to the account for them; null from a silo that did not read them).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SessionPrincipal(
    [property: Id(0)] string Account,
    [property: Id(1)] SessionKind Kind,
    [property: Id(2)] IReadOnlyList<AdminRoleGrant> Roles,
    [property: Id(3)] DateTimeOffset ExpiresAt,
    [property: Id(4)] GrainMail.Contracts.Accounts.LoginRestriction? Restrictions = null);

/// <summary>
/// Roles, admin sessions and the directory lookups the scope checks need, answered on a silo
/// from PostgreSQL (the HTTP gateway has no database). Tokens arrive as SHA-256 hashes only:
/// the token itself never leaves the gateway that issued it.
/// </summary>
public interface IAdminAccessGrain : IGrainWithIntegerKey
{
    Task<RoleGrantResult> Grant(NewRoleGrant grant);

    [Retryable]
    Task<IReadOnlyList<AdminRoleGrant>> ListRoles(string? domain, string? account);

    [Retryable]
    Task<AdminRoleGrant?> GetRole(long id);

    /// <summary>Removes a grant; an admin session left without a role ends with it.</summary>
    Task<bool> Revoke(long id);

    /// <summary>
    /// Starts a session for an account that has authenticated. An admin session needs at least one
    /// role: null when the account has none (or is missing or disabled).
    /// </summary>
    Task<SessionStarted?> StartSession(string account, SessionKind kind, byte[] tokenHash);

    /// <summary>The session's account and current roles; null when the token is unknown, expired, idle too long, or its account lost its roles or was disabled.</summary>
    [Retryable]
    Task<SessionPrincipal?> ValidateSession(byte[] tokenHash);

    Task<bool> EndSession(byte[] tokenHash);

    /// <summary>The account's domain and department path (from directory_account); null when it has no directory row.</summary>
    [Retryable]
    Task<DirectoryPlace?> AccountPlace(string address);

    [Retryable]
    Task<DirectoryPlace?> DepartmentPlace(long departmentId);
}
