using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Accounts;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OtpNet;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// Everything of an account's security that is not the password itself: TOTP, recovery codes,
/// the secondary address and reset tokens. Kept in <see cref="AccountState"/> (id 8) so that
/// single use is decided by the one activation of the account, with no table to race on.
/// </summary>
[GenerateSerializer]
public sealed class AccountSecurityState
{
    /// <summary>
    /// The TOTP key in clear, as versions before the sealed fields kept it: read once when the
    /// account activates, then moved to <see cref="SealedTotpSecret"/> (AccountGrain.SealedSecrets.cs).
    /// </summary>
    [Id(0)] public string? TotpSecret { get; set; }
    /// <summary>In clear, as older versions kept it; moved to <see cref="SealedPendingTotpSecret"/>.</summary>
    [Id(1)] public string? PendingTotpSecret { get; set; }
    /// <summary>
    /// The last RFC 6238 time step a code was accepted for: a code of that step or an earlier one is
    /// refused, so a code observed by someone else is worthless once used (RFC 6238 5.2).
    /// </summary>
    [Id(2)] public long LastTotpStep { get; set; }
    /// <summary>SHA-256 (hex) of each unused recovery code.</summary>
    [Id(3)] public List<string> RecoveryCodeHashes { get; set; } = [];
    [Id(4)] public List<string> PendingRecoveryCodeHashes { get; set; } = [];
    /// <summary>PHC hashes of earlier passwords, newest first (for the policy's history rule).</summary>
    [Id(5)] public List<string> PasswordHistory { get; set; } = [];
    /// <summary>In clear, as older versions kept it; moved to <see cref="SealedSecondaryAddress"/>.</summary>
    [Id(6)] public string? SecondaryAddress { get; set; }
    [Id(7)] public bool SecondaryVerified { get; set; }
    [Id(8)] public string? SecondaryCodeHash { get; set; }
    [Id(9)] public DateTimeOffset SecondaryCodeExpires { get; set; }
    /// <summary>SHA-256 (hex) of the one reset token that is valid, and until when.</summary>
    [Id(10)] public string? ResetTokenHash { get; set; }
    [Id(11)] public DateTimeOffset ResetTokenExpires { get; set; }
    /// <summary>When reset links were requested in the last hour (the per-account rate limit).</summary>
    [Id(12)] public List<DateTimeOffset> ResetRequests { get; set; } = [];
    /// <summary>The violations the password had when last judged (so the table is written only when the verdict changes).</summary>
    [Id(13)] public List<string>? LastVerdict { get; set; }
    /// <summary>The confirmed TOTP key (base32) sealed under the master key; null while two-factor is off.</summary>
    [Id(14)] public byte[]? SealedTotpSecret { get; set; }
    /// <summary>A key handed out by enrolment and not confirmed yet, sealed.</summary>
    [Id(15)] public byte[]? SealedPendingTotpSecret { get; set; }
    /// <summary>The address reset links go to, sealed.</summary>
    [Id(16)] public byte[]? SealedSecondaryAddress { get; set; }

    public bool TwoFactorEnabled => SealedTotpSecret is not null || TotpSecret is not null;

    public bool HasClearSecrets => TotpSecret is not null || PendingTotpSecret is not null || SecondaryAddress is not null;
}

public sealed partial class AccountGrain : IAccountSecurityGrain
{
    private const int RecoveryCodeCount = 10;

    // RFC 6238 4 and 5.2: 30-second steps, and one step either side for clocks that drift.
    private static readonly VerificationWindow TotpWindow = new(previous: 1, future: 1);

    private AccountSecurityState Sec => S.Security ??= new AccountSecurityState();

    private AccountSecurityStore SecurityStore => ServiceProvider.GetRequiredService<AccountSecurityStore>();

    private AuditLog Audit => ServiceProvider.GetRequiredService<AuditLog>();

    private SecurityClock SecurityTime => ServiceProvider.GetService<SecurityClock>() ?? _systemSecurityClock;

    private static readonly SecurityClock _systemSecurityClock = new();

    private string Address => this.GetPrimaryKeyString();

    private string DomainPart => Address[(Address.LastIndexOf('@') + 1)..];

    private string LocalPart => Address[..Address.LastIndexOf('@')];

    public async Task<TwoFactorEnrolment?> BeginTwoFactor(string issuer)
    {
        await AdoptAsync();
        if (!S.Exists) return null;
        var secret = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        var codes = NewRecoveryCodes();
        PendingTotpKey = secret;
        Sec.PendingRecoveryCodeHashes = codes.Select(HashCode).ToList();
        await state.WriteStateAsync();
        // Key URI format of Google Authenticator, which every TOTP app reads: label issuer:account.
        var label = Uri.EscapeDataString(issuer) + ":" + Uri.EscapeDataString(Address);
        var uri = $"otpauth://totp/{label}?secret={secret}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits=6&period=30";
        return new TwoFactorEnrolment(uri, secret, codes);
    }

    public async Task<TwoFactorOpResult> ConfirmTwoFactor(string code, SecurityActor actor)
    {
        await AdoptAsync();
        if (!S.Exists) return new(TwoFactorOpStatus.NoSuchAccount);
        if (PendingTotpKey is not { } pending) return new(TwoFactorOpStatus.NotEnrolling, "Start enrolment first");
        if (MatchTotp(pending, code, 0) is not { } step) return new(TwoFactorOpStatus.WrongCode, "The code does not match; check the phone's clock");
        TotpKey = pending;
        Sec.LastTotpStep = step;
        Sec.RecoveryCodeHashes = Sec.PendingRecoveryCodeHashes;
        PendingTotpKey = null;
        Sec.PendingRecoveryCodeHashes = [];
        ForgetCheckedCredentials(); // a cached account password must not keep opening IMAP now
        await state.WriteStateAsync();
        await AuditAsync(actor, "twofactor.enrol", "ok");
        return new(TwoFactorOpStatus.Ok);
    }

    public async Task<TwoFactorOpResult> DisableTwoFactor(string? code, SecurityActor actor)
    {
        await AdoptAsync();
        if (!S.Exists) return new(TwoFactorOpStatus.NoSuchAccount);
        if (!Sec.TwoFactorEnabled && Sec.SealedPendingTotpSecret is null) return new(TwoFactorOpStatus.NotEnabled);
        if (!actor.IsAdmin)
        {
            if ((await SecurityContextAsync()).TwoFactorRequired)
                return new(TwoFactorOpStatus.RequiredByPolicy, "Your organisation requires two-factor authentication");
            if (Sec.TwoFactorEnabled && !await UseSecondFactorAsync(code, actor.ClientIp))
                return new(TwoFactorOpStatus.WrongCode, "A valid code (or recovery code) is needed to turn two-factor off");
        }
        TotpKey = null;
        PendingTotpKey = null;
        Sec.RecoveryCodeHashes = [];
        Sec.PendingRecoveryCodeHashes = [];
        Sec.LastTotpStep = 0;
        ForgetCheckedCredentials();
        await state.WriteStateAsync();
        await AuditAsync(actor, "twofactor.disable", "ok");
        return new(TwoFactorOpStatus.Ok);
    }

    public async Task<RecoveryCodesResult> RegenerateRecoveryCodes(string code, SecurityActor actor)
    {
        await AdoptAsync();
        if (!S.Exists) return new(TwoFactorOpStatus.NoSuchAccount, []);
        if (!Sec.TwoFactorEnabled) return new(TwoFactorOpStatus.NotEnabled, []);
        if (!await UseSecondFactorAsync(code, actor.ClientIp)) return new(TwoFactorOpStatus.WrongCode, []);
        var codes = NewRecoveryCodes();
        Sec.RecoveryCodeHashes = codes.Select(HashCode).ToList();
        await state.WriteStateAsync();
        await AuditAsync(actor, "twofactor.recovery-codes", "ok");
        return new(TwoFactorOpStatus.Ok, codes);
    }

    public async Task<TwoFactorStatus?> GetTwoFactorStatus()
    {
        await AdoptAsync();
        if (!S.Exists) return null;
        var ctx = await SecurityContextAsync();
        return new TwoFactorStatus(Sec.TwoFactorEnabled, Sec.SealedPendingTotpSecret is not null, Sec.RecoveryCodeHashes.Count, ctx.TwoFactorRequired);
    }

    public async Task<LoginRestriction> GetRestrictions()
    {
        await AdoptAsync();
        if (!S.Exists) return LoginRestriction.None;
        return Restrictions(await SecurityContextAsync());
    }

    public async Task<AccountSessionCheck> CheckSession()
    {
        var info = await GetInfo();
        if (info is not { Enabled: true }) return new AccountSessionCheck(info, LoginRestriction.None);
        return new AccountSessionCheck(info, Restrictions(await SecurityContextAsync()));
    }

    private LoginRestriction Restrictions(AccountSecurityContext ctx)
    {
        var r = LoginRestriction.None;
        if (ctx.TwoFactorRequired && !Sec.TwoFactorEnabled) r |= LoginRestriction.MustEnrolTwoFactor;
        if (ctx.MustChangePassword) r |= LoginRestriction.MustChangePassword;
        return r;
    }

    private Task<AccountSecurityContext> SecurityContextAsync() => SecurityStore.GetContextAsync(DomainPart, LocalPart);

    /// <summary>
    /// The second step of a login whose secret matched (<paramref name="appPassword"/> names the app
    /// password, null for the account's own). Interactive channels need a TOTP or recovery code when
    /// two-factor is on; mail protocols then take app passwords only (4.3.12).
    /// </summary>
    private async Task<AuthResult> SecondStepAsync(LoginAttempt attempt, string? appPassword, DateTimeOffset now)
    {
        if (!attempt.Interactive)
        {
            if (appPassword is null && Sec.TwoFactorEnabled)
                return new AuthResult(AuthOutcome.AppPasswordRequired, Reason: "Two-factor authentication is on: use an app password");
            return Succeeded(appPassword);
        }
        if (appPassword is not null) return Succeeded(appPassword); // the endpoints refuse app passwords for sessions
        if (Sec.TwoFactorEnabled)
        {
            if (string.IsNullOrWhiteSpace(attempt.TotpCode))
                return new AuthResult(AuthOutcome.TwoFactorRequired,
                    Reason: "Two-factor authentication is on: send the code from your authenticator app (or a recovery code)");
            if (!await UseSecondFactorAsync(attempt.TotpCode, attempt.RemoteIp))
            {
                var failed = await CountFailureAsync(now, attempt.RemoteIp);
                return failed.Outcome == AuthOutcome.LockedOut
                    ? failed
                    : new AuthResult(AuthOutcome.TwoFactorRequired, Reason: "The two-factor code is wrong or was already used");
            }
        }
        _failures.Clear();
        return new AuthResult(AuthOutcome.Success, Restrictions: Restrictions(await SecurityContextAsync()));
    }

    /// <summary>A TOTP code of a step after the last one used, or an unused recovery code; spends it.</summary>
    private async Task<bool> UseSecondFactorAsync(string? code, string clientIp)
    {
        if (string.IsNullOrWhiteSpace(code) || TotpKey is not { } secret) return false;
        var digits = code.Replace(" ", "").Trim();
        if (digits.Length == 6 && digits.All(char.IsAsciiDigit))
        {
            if (MatchTotp(secret, digits, Sec.LastTotpStep) is not { } step) return false;
            Sec.LastTotpStep = step;
            await state.WriteStateAsync();
            return true;
        }
        var hash = HashCode(code);
        var index = Sec.RecoveryCodeHashes.FindIndex(h => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(h), Encoding.ASCII.GetBytes(hash)));
        if (index < 0) return false;
        Sec.RecoveryCodeHashes.RemoveAt(index);
        await state.WriteStateAsync();
        await AuditAsync(new SecurityActor(Address, "user", clientIp), "twofactor.recovery-code-used", "ok",
            $"{{\"left\":{Sec.RecoveryCodeHashes.Count}}}");
        return true;
    }

    /// <summary>The time step <paramref name="code"/> is valid for, if it is later than <paramref name="after"/>.</summary>
    private long? MatchTotp(string base32Secret, string code, long after)
    {
        var totp = new Totp(Base32Encoding.ToBytes(base32Secret));
        if (!totp.VerifyTotp(SecurityTime.GetUtcNow().UtcDateTime, code.Trim(), out var step, TotpWindow)) return null;
        return step > after ? step : null;
    }

    // 10 codes of 10 letters and digits without look-alikes (about 50 bits each), shown as xxxxx-xxxxx.
    private static List<string> NewRecoveryCodes()
    {
        const string alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
        var list = new List<string>();
        for (var n = 0; n < RecoveryCodeCount; n++)
        {
            var chars = new char[10];
            for (var i = 0; i < chars.Length; i++) chars[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            list.Add(new string(chars, 0, 5) + "-" + new string(chars, 5, 5));
        }
        return list;
    }

    // Codes are high-entropy random strings: a plain SHA-256 is enough (no dictionary to try).
    private static string HashCode(string code) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(code.Replace("-", "").Replace(" ", "").Trim().ToLowerInvariant())));

    private async Task AuditAsync(SecurityActor actor, string action, string result, string? detail = null)
    {
        try
        {
            await Audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, action, Address, result, detail));
        }
        catch (Exception e)
        {
            // The change is made; a failed audit write is loud in the log rather than undoing it.
            logger.LogError(e, "Audit entry {Action} for {Address} not written", action, Address);
        }
    }
}
