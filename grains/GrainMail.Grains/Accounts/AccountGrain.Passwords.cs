using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Grains.Accounts.Passwords;
using GrainMail.Storage.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// Password changes through the domain's policy and history, the weak-password verdict, and
/// self-service reset (4.3.9) by a one-time link to a verified secondary address.
/// </summary>
public sealed partial class AccountGrain
{
    /// <summary>How long a reset link and a verification code work (4.3.9: 30 minutes).</summary>
    public static readonly TimeSpan ResetLifetime = TimeSpan.FromMinutes(30);

    /// <summary>Reset links per account per hour; more are refused until the hour has passed.</summary>
    public const int ResetsPerHour = 3;

    public async Task<PasswordSetResult> ChangePassword(PasswordChange change)
    {
        await AdoptAsync();
        if (!S.Exists) return PasswordSetResult.Of(PasswordSetStatus.NoSuchAccount);
        if (change.Kind == PasswordChangeKind.User &&
            (change.CurrentPassword is null || !await hasher.VerifyAsync(change.CurrentPassword, S.PasswordHash)))
        {
            await CountFailureAsync(clock.GetUtcNow(), change.Actor.ClientIp);
            return PasswordSetResult.Of(PasswordSetStatus.WrongCurrentPassword);
        }
        var ctx = await SecurityContextAsync();
        var violations = await ViolationsAsync(ctx.Policy, change.NewPassword);
        if (violations.Count > 0)
        {
            await AuditAsync(change.Actor, change.Kind == PasswordChangeKind.Admin ? "password.reset" : "password.change", "rejected",
                System.Text.Json.JsonSerializer.Serialize(violations));
            return new PasswordSetResult(PasswordSetStatus.Rejected, violations);
        }
        await StorePasswordAsync(change.NewPassword, ctx.MustChangePassword, change.Kind == PasswordChangeKind.Admin && change.MustChangeAfter,
            byTheUser: change.Kind == PasswordChangeKind.User);
        await AuditAsync(change.Actor, change.Kind == PasswordChangeKind.Admin ? "password.reset" : "password.change", "ok",
            change.MustChangeAfter ? "{\"mustChangePassword\":true}" : null);
        return PasswordSetResult.Of(PasswordSetStatus.Ok);
    }

    /// <summary>The policy's rules and the history rule (the current password and the last N−1 before it).</summary>
    private async Task<IReadOnlyList<string>> ViolationsAsync(SecurityPolicy policy, string password)
    {
        var violations = PasswordJudge.Violations(policy, password, LocalPart, S.DisplayName).ToList();
        if (policy.History > 0)
        {
            foreach (var old in new[] { S.PasswordHash }.Concat(Sec.PasswordHistory).Take(policy.History))
            {
                if (old.Length > 0 && await hasher.VerifyAsync(password, old))
                {
                    violations.Add($"Do not reuse any of your last {policy.History} passwords");
                    break;
                }
            }
        }
        return violations;
    }

    /// <summary>
    /// Stores a new password (its predecessor goes into the history) and ends the IMAP/POP3 sessions
    /// that logged in with the old one, as <see cref="SetPassword"/> does; an admin's reset or a reset
    /// link also ends the account's API sessions, the user's own change keeps them (it is made from one).
    /// </summary>
    private async Task StorePasswordAsync(string password, bool mustChangeWasSet, bool mustChangeAfter, bool byTheUser)
    {
        if (S.PasswordHash.Length > 0)
        {
            Sec.PasswordHistory.Insert(0, S.PasswordHash);
            if (Sec.PasswordHistory.Count > SecurityPolicy.MaxHistory) Sec.PasswordHistory.RemoveRange(SecurityPolicy.MaxHistory, Sec.PasswordHistory.Count - SecurityPolicy.MaxHistory);
        }
        S.PasswordHash = await hasher.HashAsync(password);
        S.LockedUntil = null;
        _failures.Clear();
        ForgetCheckedCredentials();
        Sec.ResetTokenHash = null; // a password set by any way ends a pending reset link
        Sec.LastVerdict = [];
        await state.WriteStateAsync();
        await SaveVerdictAsync([]);
        // The flag lives in directory_account, which the domain grain writes.
        if (mustChangeWasSet != mustChangeAfter)
            await GrainFactory.GetGrain<IDomainGrain>(DomainPart).UpdateAccount(LocalPart, new AccountAttributes(MustChangePassword: mustChangeAfter));
        await EndSessionsAfterAsync(MailSessionEndReason.PasswordChanged, apiSessions: !byTheUser);
    }

    /// <summary>
    /// 4.2.21: each successful login with the account's password judges it against today's policy
    /// (only the verdict is kept); the table is written only when the verdict changes.
    /// </summary>
    private async Task JudgeAtLoginAsync(string password)
    {
        try
        {
            var policy = (await SecurityContextAsync()).Policy;
            var violations = PasswordJudge.Violations(policy, password, LocalPart, S.DisplayName);
            if (Sec.LastVerdict is { } last && last.SequenceEqual(violations)) return;
            Sec.LastVerdict = violations.ToList();
            await state.WriteStateAsync();
            await SaveVerdictAsync(violations);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Statistics must never stop a login.
            logger.LogWarning(e, "Password verdict for {Address} not recorded", Address);
        }
    }

    private Task SaveVerdictAsync(IReadOnlyList<string> violations) => SecurityStore.SaveVerdictAsync(DomainPart, LocalPart, violations);

    // ---- secondary address and reset --------------------------------------------------------------

    public async Task<SecondaryAddressResult> SetSecondaryAddress(string address, SecurityActor actor)
    {
        await AdoptAsync();
        if (!S.Exists) return new(SecondaryAddressStatus.NoSuchAccount);
        if (MailAddress.Normalize(address) is not { } normalized) return new(SecondaryAddressStatus.Invalid, "Not a mail address");
        if (normalized == Address) return new(SecondaryAddressStatus.Invalid, "The secondary address must be another mailbox than this account");
        var code = RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6");
        SecondaryAddressKept = normalized;
        Sec.SecondaryVerified = false;
        Sec.SecondaryCodeHash = HashCode(code);
        Sec.SecondaryCodeExpires = SecurityTime.GetUtcNow() + ResetLifetime;
        await state.WriteStateAsync();
        await SendNoticeAsync(normalized, "Confirm your secondary address",
            $"Someone (probably you) named this address as the secondary address of {Address}, for password resets.\r\n\r\n" +
            $"The verification code is: {code}\r\n\r\nIt works for 30 minutes. If this was not you, ignore this mail.\r\n");
        // Only a hint of the address: the log is read by auditors, and the address itself is kept sealed.
        await AuditAsync(actor, "account.secondary-address", "ok", System.Text.Json.JsonSerializer.Serialize(new { address = AddressHint(normalized) }));
        return new(SecondaryAddressStatus.Ok);
    }

    public async Task<SecondaryAddressResult> VerifySecondaryAddress(string code)
    {
        await AdoptAsync();
        if (!S.Exists) return new(SecondaryAddressStatus.NoSuchAccount);
        if (Sec.SecondaryCodeHash is not { } expected || SecurityTime.GetUtcNow() > Sec.SecondaryCodeExpires || !SameHash(expected, HashCode(code)))
            return new(SecondaryAddressStatus.WrongCode, "The code is wrong or expired; set the address again for a new one");
        Sec.SecondaryVerified = true;
        Sec.SecondaryCodeHash = null;
        await state.WriteStateAsync();
        return new(SecondaryAddressStatus.Ok);
    }

    public async Task<ResetRequestOutcome> RequestPasswordReset(string resetUrlBase, string clientIp)
    {
        await AdoptAsync();
        if (!S.Exists) return ResetRequestOutcome.NoSuchAccount;
        if (!Sec.SecondaryVerified || SecondaryAddressKept is not { } to) return ResetRequestOutcome.NoVerifiedAddress;
        var now = SecurityTime.GetUtcNow();
        Sec.ResetRequests.RemoveAll(t => now - t > TimeSpan.FromHours(1));
        if (Sec.ResetRequests.Count >= ResetsPerHour) return ResetRequestOutcome.RateLimited;
        // The token names its account (so the reset endpoint knows which grain to ask) and carries
        // 256 random bits; only its hash is kept, and a new request replaces the previous link.
        var token = ResetTokens.New(Address);
        Sec.ResetTokenHash = HashToken(token);
        Sec.ResetTokenExpires = now + ResetLifetime;
        Sec.ResetRequests.Add(now);
        await state.WriteStateAsync();
        var link = resetUrlBase + (resetUrlBase.Contains('?') ? "&" : "?") + "token=" + Uri.EscapeDataString(token);
        await SendNoticeAsync(to, "Reset your password",
            $"A password reset was asked for {Address} (from {clientIp}).\r\n\r\nOpen this link to choose a new password:\r\n{link}\r\n\r\n" +
            $"Reset token: {token}\r\n\r\nThe link works once, for 30 minutes. If this was not you, ignore this mail: your password stays as it is.\r\n");
        await AuditAsync(new SecurityActor(Address, "user", clientIp), "password.reset-request", "ok");
        return ResetRequestOutcome.Sent;
    }

    public async Task<PasswordSetResult> CompletePasswordReset(string token, string newPassword, string clientIp)
    {
        await AdoptAsync();
        if (!S.Exists) return PasswordSetResult.Of(PasswordSetStatus.InvalidToken);
        var actor = new SecurityActor(Address, "user", clientIp);
        if (Sec.ResetTokenHash is not { } expected || !SameHash(expected, HashToken(token)))
            return PasswordSetResult.Of(PasswordSetStatus.InvalidToken);
        if (SecurityTime.GetUtcNow() > Sec.ResetTokenExpires)
        {
            Sec.ResetTokenHash = null;
            await state.WriteStateAsync();
            await AuditAsync(actor, "password.reset", "expired");
            return PasswordSetResult.Of(PasswordSetStatus.InvalidToken);
        }
        var ctx = await SecurityContextAsync();
        var violations = await ViolationsAsync(ctx.Policy, newPassword);
        // A password the policy refuses does not spend the link: the user tries another one.
        if (violations.Count > 0) return new PasswordSetResult(PasswordSetStatus.Rejected, violations);
        await StorePasswordAsync(newPassword, ctx.MustChangePassword, mustChangeAfter: false, byTheUser: false);
        await AuditAsync(actor, "password.reset", "ok", "{\"by\":\"link\"}");
        return PasswordSetResult.Of(PasswordSetStatus.Ok);
    }

    private static string HashToken(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static bool SameHash(string a, string b) => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));

    /// <summary>A plain-text mail from the account's domain's postmaster, committed like any other message.</summary>
    private async Task SendNoticeAsync(string to, string subject, string text)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("GrainMail", $"postmaster@{DomainPart}"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = subject;
        message.Date = clock.GetUtcNow();
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(DomainPart);
        message.Body = new TextPart("plain") { Text = text };
        using var buffer = new MemoryStream();
        await message.WriteToAsync(FormatOptions.Default, buffer);
        var bytes = buffer.ToArray();
        var verdict = await RecipientPolicy.ResolveAutomaticAsync(GrainFactory, to, bytes.Length);
        Submission submission;
        if (verdict.Accepted)
            submission = new Submission(null, verdict.Mailboxes, bytes,
                External: verdict.External.Count > 0 ? verdict.External : null, ExternalOwner: verdict.External.Count > 0 ? DomainPart : null);
        else if (!verdict.Hosted)
            submission = new Submission(null, [], bytes, External: [to], ExternalOwner: DomainPart);
        else
        {
            logger.LogWarning("Notice to {To} for {Address} not sent: {Status}", to, Address, verdict.Status);
            return;
        }
        await ServiceProvider.GetRequiredService<MessageSubmitter>().SubmitAsync(submission);
    }
}
