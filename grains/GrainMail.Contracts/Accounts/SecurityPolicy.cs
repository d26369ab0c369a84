namespace GrainMail.Contracts.Accounts;

/// <summary>
/// A domain's account-security policy (4.2.17, 4.2.20, 4.2.21). The defaults are what GrainMail
/// always did: eight characters, no other password rule, two-factor optional, authentication
/// only over TLS (<see cref="AuthRequiresTls"/> null: the node's rule, which is TLS only unless the
/// node allows plaintext for development; true: TLS only even then).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SecurityPolicy(
    [property: Id(0)] bool TwoFactorRequired = false,
    [property: Id(1)] bool? AuthRequiresTls = null,
    [property: Id(2)] int MinLength = 8,
    [property: Id(3)] int MinClasses = 1,
    [property: Id(4)] bool ForbidAccountName = false,
    [property: Id(5)] bool ForbidCommon = false,
    [property: Id(6)] int History = 0)
{
    public static readonly SecurityPolicy Default = new();

    /// <summary>What the domain's settings show: on unless set off.</summary>
    public bool AuthRequiresTlsShown => AuthRequiresTls ?? true;

    public const int MaxLength = 128;
    public const int MaxHistory = 24;

    /// <summary>Why these values cannot be a policy, or null.</summary>
    public string? Problem() =>
        MinLength is < 8 or > MaxLength ? $"passwordMinLength must be between 8 and {MaxLength}"
        : MinClasses is < 1 or > 4 ? "passwordMinClasses must be between 1 and 4 (lower case, upper case, digits, other)"
        : History is < 0 or > MaxHistory ? $"passwordHistory must be between 0 and {MaxHistory}"
        : null;
}

/// <summary>An account whose password broke its policy when last judged.</summary>
[GenerateSerializer, Immutable]
public sealed record WeakPasswordEntry(
    [property: Id(0)] string Address,
    [property: Id(1)] long? DepartmentId,
    [property: Id(2)] IReadOnlyList<long> DepartmentPath,
    [property: Id(3)] IReadOnlyList<string> Violations,
    [property: Id(4)] DateTimeOffset JudgedAt,
    [property: Id(5)] bool MustChangePassword);

/// <summary>The domain's security policy and its department overrides; stateless, rows in PostgreSQL (migration 0020).</summary>
public interface ISecurityPolicyGrain : IGrainWithIntegerKey
{
    [Retryable, Orleans.ResponseTimeout(CallTimeouts.LoginRead)]
    Task<SecurityPolicy> GetPolicy(string domain);

    Task SetPolicy(string domain, SecurityPolicy policy, SecurityActor actor);

    /// <summary>Null removes the department's override (the parent's or the domain's setting applies).</summary>
    Task<bool> SetDepartmentTwoFactor(string domain, long departmentId, bool? required, SecurityActor actor);

    [Retryable]
    Task<IReadOnlyDictionary<long, bool>> GetDepartmentTwoFactor(string domain);

    /// <summary>The rules a new password breaks under the domain's policy (history aside: that is the account's).</summary>
    [Retryable]
    Task<IReadOnlyList<string>> CheckPassword(string domain, string localPart, string? displayName, string password);

    [Retryable]
    Task<IReadOnlyList<WeakPasswordEntry>> ListWeak(string domain);
}

/// <summary>Counts password-reset requests per client address (one activation per address).</summary>
public interface IResetRateGrain : IGrainWithStringKey
{
    /// <summary>True when another request may go now; counts it.</summary>
    Task<bool> TryTake();
}
