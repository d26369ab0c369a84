namespace GrainMail.Contracts.Accounts;

/// <summary>
/// The account's second factor, password policy and self-service reset. The same grain as
/// <see cref="IAccountGrain"/> (one activation per address, the same state): a second interface so
/// that the login contract stays small.
/// </summary>
public interface IAccountSecurityGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts (or restarts) TOTP enrolment: a new secret and recovery codes, both inactive until
    /// <see cref="ConfirmTwoFactor"/> gets a valid code. Null when the account does not exist.
    /// </summary>
    Task<TwoFactorEnrolment?> BeginTwoFactor(string issuer);

    /// <summary>Turns two-factor on with the first valid code of the pending secret.</summary>
    Task<TwoFactorOpResult> ConfirmTwoFactor(string code, SecurityActor actor);

    /// <summary>Turns two-factor off: the user with a valid code (or recovery code), an admin without.</summary>
    Task<TwoFactorOpResult> DisableTwoFactor(string? code, SecurityActor actor);

    /// <summary>New recovery codes (the old ones stop working); needs a valid code.</summary>
    Task<RecoveryCodesResult> RegenerateRecoveryCodes(string code, SecurityActor actor);

    [Retryable]
    Task<TwoFactorStatus?> GetTwoFactorStatus();

    /// <summary>What an interactive session of this account must do first, read now (policy, flags, enrolment).</summary>
    [Retryable]
    Task<LoginRestriction> GetRestrictions();

    /// <summary>
    /// What a session token's check needs of the account in one turn: its info (null when it does not
    /// exist) and, when it is enabled, its restrictions read now (as <see cref="GetRestrictions"/>).
    /// </summary>
    [Retryable]
    Task<AccountSessionCheck> CheckSession();

    /// <summary>Sets a password through the domain's policy (and history); every password set goes here.</summary>
    Task<PasswordSetResult> ChangePassword(PasswordChange change);

    /// <summary>Records a secondary address and mails it a verification code (valid 30 minutes).</summary>
    Task<SecondaryAddressResult> SetSecondaryAddress(string address, SecurityActor actor);

    Task<SecondaryAddressResult> VerifySecondaryAddress(string code);

    /// <summary>Mails a one-time reset link to the verified secondary address; rate-limited per account.</summary>
    Task<ResetRequestOutcome> RequestPasswordReset(string resetUrlBase, string clientIp);

    /// <summary>Sets a new password with a reset token: once, within 30 minutes.</summary>
    Task<PasswordSetResult> CompletePasswordReset(string token, string newPassword, string clientIp);
}

/// <summary>Who changes a security setting, for the audit log and for what is allowed.</summary>
[GenerateSerializer, Immutable]
public sealed record SecurityActor(
    [property: Id(0)] string Actor,
    [property: Id(1)] string Role,
    [property: Id(2)] string ClientIp)
{
    public bool IsAdmin => Role is not "user";

    public static readonly SecurityActor System = new("system", "system", "");
}

[GenerateSerializer, Immutable]
public sealed record TwoFactorEnrolment(
    [property: Id(0)] string OtpAuthUri,
    [property: Id(1)] string Secret,
    [property: Id(2)] IReadOnlyList<string> RecoveryCodes);

public enum TwoFactorOpStatus
{
    Ok,
    NoSuchAccount,
    NotEnrolling,
    WrongCode,
    NotEnabled,
    /// <summary>Two-factor is required by the domain or department policy: the user may not turn it off.</summary>
    RequiredByPolicy,
}

[GenerateSerializer, Immutable]
public sealed record TwoFactorOpResult([property: Id(0)] TwoFactorOpStatus Status, [property: Id(1)] string? Detail = null);

[GenerateSerializer, Immutable]
public sealed record RecoveryCodesResult([property: Id(0)] TwoFactorOpStatus Status, [property: Id(1)] IReadOnlyList<string> Codes);

[GenerateSerializer, Immutable]
public sealed record TwoFactorStatus(
    [property: Id(0)] bool Enabled,
    [property: Id(1)] bool Pending,
    [property: Id(2)] int RecoveryCodesLeft,
    [property: Id(3)] bool RequiredByPolicy);

public enum PasswordChangeKind
{
    /// <summary>The user, knowing the current password.</summary>
    User,
    /// <summary>An administrator sets it (reset); the user may be made to change it at next login.</summary>
    Admin,
}

[GenerateSerializer, Immutable]
public sealed record PasswordChange(
    [property: Id(0)] string NewPassword,
    [property: Id(1)] PasswordChangeKind Kind,
    [property: Id(2)] SecurityActor Actor,
    [property: Id(3)] string? CurrentPassword = null,
    [property: Id(4)] bool MustChangeAfter = false);

public enum PasswordSetStatus
{
    Ok,
    NoSuchAccount,
    /// <summary>The new password breaks the domain's policy: <see cref="PasswordSetResult.Violations"/> say which rules.</summary>
    Rejected,
    WrongCurrentPassword,
    /// <summary>Reset token unknown, used or expired.</summary>
    InvalidToken,
}

[GenerateSerializer, Immutable]
public sealed record PasswordSetResult(
    [property: Id(0)] PasswordSetStatus Status,
    [property: Id(1)] IReadOnlyList<string> Violations)
{
    public static PasswordSetResult Of(PasswordSetStatus s) => new(s, []);
}

public enum SecondaryAddressStatus
{
    Ok,
    NoSuchAccount,
    Invalid,
    WrongCode,
}

[GenerateSerializer, Immutable]
public sealed record SecondaryAddressResult([property: Id(0)] SecondaryAddressStatus Status, [property: Id(1)] string? Detail = null);

public enum ResetRequestOutcome
{
    /// <summary>A link went out (or, for an account without a verified address, nothing did: the caller says the same).</summary>
    Sent,
    NoVerifiedAddress,
    NoSuchAccount,
    RateLimited,
}

/// <summary>The account as a session check sees it: <see cref="Info"/> null when missing; <see cref="Restrictions"/> None unless enabled.</summary>
[GenerateSerializer, Immutable]
public sealed record AccountSessionCheck(
    [property: Id(0)] AccountInfo? Info,
    [property: Id(1)] LoginRestriction Restrictions);
