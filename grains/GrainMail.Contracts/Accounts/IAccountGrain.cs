namespace GrainMail.Contracts.Accounts;

/// <summary>
/// A user's credentials and profile, keyed by the normalised address. Only hashes of
/// secrets are kept. Created and deleted by its <c>IDomainGrain</c>.
/// </summary>
public interface IAccountGrain : GrainMail.Contracts.Regions.ILocatableGrain
{
    [Retryable]
    Task<AccountInfo?> GetInfo();

    Task<bool> Create(string password, string? displayName, long quotaBytes);

    Task<bool> Delete();

    Task<bool> SetPassword(string password);

    Task<bool> SetEnabled(bool enabled);

    /// <summary>
    /// Checks a password or app password (and a TOTP code on interactive channels); failures count
    /// towards the lockout. Called on the authentication identity's grain.
    /// Retryable because the same <see cref="LoginAttempt.AttemptId"/> asked again is answered from the
    /// first answer (kept for a few minutes) and counted once.
    /// </summary>
    [Retryable]
    Task<AuthResult> Authenticate(LoginAttempt attempt);

    /// <summary>
    /// A sign-on an integration asserted (single sign-on ticket, <see cref="LoginChannel.SingleSignOn"/>): no
    /// secret to check, but the login IP rules, the account's state, the login record and the new-location
    /// notice as for every other login. <see cref="LoginAttempt.Secret"/> is ignored.
    /// </summary>
    Task<AuthResult> SignOn(LoginAttempt attempt);

    /// <summary>Generates an app password, returned this once; null when the account does not exist.</summary>
    Task<string?> CreateAppPassword(string name);

    Task<AppPasswordStatus> RevokeAppPassword(string name);
}

[GenerateSerializer, Immutable]
public sealed record AccountInfo(
    [property: Id(0)] string Address,
    [property: Id(1)] string? DisplayName,
    [property: Id(2)] bool Enabled,
    [property: Id(3)] long QuotaBytes,
    [property: Id(4)] IReadOnlyList<string> AppPasswords,
    [property: Id(5)] DateTimeOffset CreatedAt);

public enum AuthOutcome
{
    Success,
    BadCredentials,
    Disabled,
    LockedOut,
    NoSuchAccount,
    /// <summary>Secret right, but the interactive login needs a valid (unused) TOTP or recovery code.</summary>
    TwoFactorRequired,
    /// <summary>Two-factor is on: mail protocols take app passwords only (4.3.12).</summary>
    AppPasswordRequired,
    /// <summary>The client's IP is outside the domain's or department's login allow-list.</summary>
    AddressNotAllowed,
    /// <summary>An authorization identity was given that has not delegated to this account.</summary>
    NotDelegated,
}

[GenerateSerializer, Immutable]
public sealed record AuthResult(
    [property: Id(0)] AuthOutcome Outcome,
    [property: Id(1)] string? AppPasswordName = null,
    [property: Id(2)] DateTimeOffset? LockedUntil = null,
    [property: Id(3)] string? Reason = null,
    [property: Id(4)] LoginRestriction Restrictions = LoginRestriction.None,
    [property: Id(5)] string? ActsFor = null)
{
    /// <summary>The mailbox the session works on: the delegating account's, or the caller's own.</summary>
    public string MailboxOf(string authenticated) => ActsFor ?? authenticated;
}

public enum AppPasswordStatus
{
    Revoked,
    NotFound,
    NoSuchAccount,
}
