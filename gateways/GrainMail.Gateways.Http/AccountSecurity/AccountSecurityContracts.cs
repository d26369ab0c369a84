using GrainMail.Contracts.Accounts;

namespace GrainMail.Gateways.Http.AccountSecurity;

/// <summary>A user's interactive login: password, and the TOTP (or a recovery) code when two-factor is on.</summary>
public sealed record UserLoginRequest(string? Address, string? Password, string? Totp);

/// <param name="Restrictions">What the session must do before anything else: <c>enrolTwoFactor</c>, <c>changePassword</c>.</param>
public sealed record UserSessionCreated(string Token, DateTimeOffset ExpiresAt, int IdleTimeoutSeconds, string Account, IReadOnlyList<string> Restrictions);

/// <param name="OtpAuthUri">For the authenticator app (as a QR code): otpauth://totp/…</param>
/// <param name="RecoveryCodes">Each works once instead of a code; shown this once.</param>
public sealed record TwoFactorEnrolmentResponse(string OtpAuthUri, string Secret, IReadOnlyList<string> RecoveryCodes);

public sealed record TwoFactorCodeRequest(string? Code);

public sealed record TwoFactorStatusResponse(bool Enabled, bool Pending, int RecoveryCodesLeft, bool RequiredByPolicy)
{
    public static TwoFactorStatusResponse From(TwoFactorStatus s) => new(s.Enabled, s.Pending, s.RecoveryCodesLeft, s.RequiredByPolicy);
}

public sealed record RecoveryCodesResponse(IReadOnlyList<string> RecoveryCodes);

public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

public sealed record SecondaryAddressRequest(string? Address);

public sealed record ResetRequest(string? Address);

public sealed record ResetCompleteRequest(string? Token, string? Password);

/// <summary>A domain's security policy; in a PATCH, absent fields keep their value.</summary>
/// <param name="TwoFactorRequired">Every account must use two-factor (departments may override).</param>
/// <param name="AuthRequiresTls">Passwords only over TLS (on by default; see README "Forced TLS").</param>
/// <param name="PasswordMinClasses">Kinds of characters a password mixes: lower case, upper case, digits, others (1–4).</param>
/// <param name="PasswordForbidName">The password may not contain the local part or a word of the display name.</param>
/// <param name="PasswordForbidCommon">The password may not be on the shipped list of common passwords.</param>
/// <param name="PasswordHistory">A new password may not be one of the last N (0–24).</param>
public sealed record SecurityPolicyBody(
    bool? TwoFactorRequired = null, bool? AuthRequiresTls = null, int? PasswordMinLength = null, int? PasswordMinClasses = null,
    bool? PasswordForbidName = null, bool? PasswordForbidCommon = null, int? PasswordHistory = null)
{
    public static SecurityPolicyBody From(SecurityPolicy p) =>
        new(p.TwoFactorRequired, p.AuthRequiresTlsShown, p.MinLength, p.MinClasses, p.ForbidAccountName, p.ForbidCommon, p.History);

    public SecurityPolicy ApplyTo(SecurityPolicy p) => new(
        TwoFactorRequired ?? p.TwoFactorRequired, AuthRequiresTls ?? p.AuthRequiresTls, PasswordMinLength ?? p.MinLength,
        PasswordMinClasses ?? p.MinClasses, PasswordForbidName ?? p.ForbidAccountName, PasswordForbidCommon ?? p.ForbidCommon,
        PasswordHistory ?? p.History);
}

/// <param name="TwoFactorRequired">true or false overrides the domain's setting for the department's subtree; null removes the override.</param>
public sealed record DepartmentSecurityRequest(bool? TwoFactorRequired);

public sealed record WeakPasswordResponse(string Address, long? DepartmentId, IReadOnlyList<string> Violations, DateTimeOffset JudgedAt, bool MustChangePassword)
{
    public static WeakPasswordResponse From(WeakPasswordEntry e) => new(e.Address, e.DepartmentId, e.Violations, e.JudgedAt, e.MustChangePassword);
}

/// <summary>The rules a password broke (400 answers carry them as the problem's <c>violations</c>).</summary>
public static class PasswordProblems
{
    public const string Title = "Password does not meet the policy";
}

public static class RestrictionNames
{
    public static IReadOnlyList<string> Of(LoginRestriction r)
    {
        var list = new List<string>();
        if (r.HasFlag(LoginRestriction.MustEnrolTwoFactor)) list.Add("enrolTwoFactor");
        if (r.HasFlag(LoginRestriction.MustChangePassword)) list.Add("changePassword");
        return list;
    }
}
