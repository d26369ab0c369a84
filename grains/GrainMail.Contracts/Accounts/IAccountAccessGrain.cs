namespace GrainMail.Contracts.Accounts;

public enum DelegationStatus
{
    Added,
    Removed,
    AlreadyExists,
    NotFound,
    NoSuchAccount,
    NoSuchDelegate,
    /// <summary>An account cannot delegate to itself.</summary>
    Self,
}

/// <summary>One delegation: <paramref name="Owner"/> lets <paramref name="Delegate"/> log in to her mailbox.</summary>
[GenerateSerializer, Immutable]
public sealed record DelegationInfo(
    [property: Id(0)] string Owner, [property: Id(1)] string Delegate, [property: Id(2)] string CreatedBy, [property: Id(3)] DateTimeOffset CreatedAt);

[GenerateSerializer, Immutable]
public sealed record AppPasswordInfo([property: Id(0)] string Name, [property: Id(1)] DateTimeOffset CreatedAt);

/// <summary>
/// The login-security side of the account grain (the same activation as <see cref="IAccountGrain"/>,
/// keyed by the normalised address): unlocking, delegation, the app password list.
/// </summary>
public interface IAccountAccessGrain : IGrainWithStringKey
{
    /// <summary>Lifts a lockout; false when the account does not exist.</summary>
    Task<bool> Unlock(SecurityActor actor);

    /// <summary>When the account is locked now, until when; null otherwise.</summary>
    Task<DateTimeOffset?> LockedUntil();

    /// <summary>This account (the owner) lets <paramref name="delegateAddress"/> into its mailbox.</summary>
    Task<DelegationStatus> AddDelegate(string delegateAddress, SecurityActor actor);

    /// <summary>Removes the delegation and ends the delegate's open sessions on this mailbox.</summary>
    Task<DelegationStatus> RemoveDelegate(string delegateAddress, SecurityActor actor);

    /// <summary>Delegations this account gave and received.</summary>
    Task<IReadOnlyList<DelegationInfo>> Delegations();

    Task<IReadOnlyList<AppPasswordInfo>> AppPasswordList();

    /// <summary>
    /// Revokes an app password on behalf of <paramref name="actor"/> (the user or an admin): an audited
    /// security event, and the IMAP/POP3 sessions that logged in with it end.
    /// </summary>
    Task<AppPasswordStatus> RevokeAppPasswordBy(string name, SecurityActor actor);
}
