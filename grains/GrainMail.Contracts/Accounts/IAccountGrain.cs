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

    /// <summary>Checks a password or app password; failures count towards the lockout.</summary>
    [Retryable]
    Task<AuthResult> Authenticate(string secret, string remote);

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
}

[GenerateSerializer, Immutable]
public sealed record AuthResult(
    [property: Id(0)] AuthOutcome Outcome,
    [property: Id(1)] string? AppPasswordName = null,
    [property: Id(2)] DateTimeOffset? LockedUntil = null);

public enum AppPasswordStatus
{
    Revoked,
    NotFound,
    NoSuchAccount,
}
