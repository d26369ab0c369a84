using GrainMail.Contracts.Accounts;

namespace GrainMail.Gateways.Http.Accounts;

public sealed record CreateAccountRequest(
    string? LocalPart, string? Password, string? DisplayName, long? QuotaBytes,
    string? Title = null, string? EmployeeLevel = null, string? Phone = null, long? DepartmentId = null,
    bool? MaySendExternal = null, bool? MayReceiveExternal = null, bool? InAddressBook = null, bool? Enabled = null,
    bool? MustChangePassword = null);

/// <param name="MustChangePassword">The user must choose a new password at the next interactive login (an admin reset).</param>
public sealed record PasswordRequest(string? Password, bool? MustChangePassword = null);

public sealed record EnabledRequest(bool? Enabled);

/// <param name="Department">The department's path of names below the root ('' for the root), as the CSV import writes it.</param>
public sealed record AccountResponse(
    string Address, string? DisplayName, bool Enabled, long QuotaBytes, IReadOnlyList<string> AppPasswords, DateTimeOffset? CreatedAt,
    string? Title = null, string? EmployeeLevel = null, string? Phone = null, long? DepartmentId = null, string? Department = null,
    bool MaySendExternal = true, bool MayReceiveExternal = true, bool InAddressBook = true, bool MustChangePassword = false)
{
    public static AccountResponse From(string address, AccountInfo? info) => new(
        address, info?.DisplayName, info?.Enabled ?? false, info?.QuotaBytes ?? 0, info?.AppPasswords ?? [], info?.CreatedAt);

    /// <summary>The directory's attributes, with the account grain's app passwords when known.</summary>
    public static AccountResponse From(GrainMail.Contracts.Domains.DirectoryAccount a, AccountInfo? info) => new(
        a.Address, a.DisplayName ?? info?.DisplayName, a.Enabled, a.QuotaBytes, info?.AppPasswords ?? [], info?.CreatedAt ?? a.CreatedAt,
        a.Title, a.EmployeeLevel, a.Phone, a.DepartmentId, a.DepartmentPath, a.MaySendExternal, a.MayReceiveExternal, a.InAddressBook,
        a.MustChangePassword);
}

/// <summary>RFC 5321-era servers and clients cap passwords nowhere; eight characters is GrainMail's floor.</summary>
public static class PasswordRule
{
    public const int MinLength = 8;

    public static string? Problem(string? password) =>
        password is null || password.Length < MinLength ? $"At least {MinLength} characters" : null;
}
