using GrainMail.Contracts.Accounts;

namespace GrainMail.Gateways.Http.Accounts;

public sealed record CreateAccountRequest(string? LocalPart, string? Password, string? DisplayName, long? QuotaBytes);

public sealed record PasswordRequest(string? Password);

public sealed record EnabledRequest(bool? Enabled);

public sealed record AccountResponse(
    string Address, string? DisplayName, bool Enabled, long QuotaBytes, IReadOnlyList<string> AppPasswords, DateTimeOffset? CreatedAt)
{
    public static AccountResponse From(string address, AccountInfo? info) => new(
        address, info?.DisplayName, info?.Enabled ?? false, info?.QuotaBytes ?? 0, info?.AppPasswords ?? [], info?.CreatedAt);
}

/// <summary>RFC 5321-era servers and clients cap passwords nowhere; eight characters is GrainMail's floor.</summary>
public static class PasswordRule
{
    public const int MinLength = 8;

    public static string? Problem(string? password) =>
        password is null || password.Length < MinLength ? $"At least {MinLength} characters" : null;
}
