using GrainMail.Contracts.Admin;
using GrainMail.Storage.Admin;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Logins;
using MimeKit;
using MimeKit.Utils;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// The security notices mailed to users (4.3.13 new location, 4.3.14 lockout) through the internal
/// submission path that DSNs and list moderation notices use: straight into the hosted mailboxes,
/// with the null reverse path (RFC 3834 3.3: an automatic notice draws no bounce or reply).
/// </summary>
public sealed class LoginNotices(MessageSubmitter submitter, AdminAccessStore access, TimeProvider clock)
{
    public const string NewLocationSubject = "New sign-in to your mail account";
    public const string LockoutSubject = "Mail account locked after failed sign-ins";

    public async Task NewLocationAsync(string account, LoginRow row)
    {
        var text =
            $"Your account {account} was just signed in to from a place it has not been used from in the last 30 days.\r\n\r\n" +
            $"  Time:   {row.At:yyyy-MM-dd HH:mm:ss} UTC\r\n" +
            $"  IP:     {row.ClientIp}\r\n" +
            $"  Place:  {PlaceText(row)}\r\n" +
            $"  Client: {row.ClientName ?? "(not given)"} over {row.Channel.ToUpperInvariant()}\r\n" +
            (row.ActingFor is { } acting ? $"  For:    {acting} (delegated access)\r\n" : "") +
            "\r\nIf this was you, there is nothing to do.\r\n\r\n" +
            "If it was not you:\r\n" +
            "  1. Change your password at once.\r\n" +
            "  2. Revoke app passwords and end sessions you do not recognise (GET /api/v1/me/sessions, DELETE /api/v1/me/sessions/{id}).\r\n" +
            "  3. Tell your administrator, who can see the login history and restrict logins to your organisation's networks.\r\n";
        await SendAsync(account, [account], NewLocationSubject, text);
    }

    /// <summary>To the user and to the domain's admins.</summary>
    public async Task LockoutAsync(string account, LoginRow row, DateTimeOffset until)
    {
        var domain = account[(account.LastIndexOf('@') + 1)..];
        var admins = (await access.RolesAsync(domain, null))
            .Where(r => r.Grant.Role == AdminRoleKind.DomainAdmin).Select(r => r.Grant.Account).Distinct().ToList();
        var text =
            $"The account {account} was locked after repeated failed sign-ins.\r\n\r\n" +
            $"  Locked until: {until:yyyy-MM-dd HH:mm:ss} UTC\r\n" +
            $"  Last attempt: {row.At:yyyy-MM-dd HH:mm:ss} UTC from {row.ClientIp} ({PlaceText(row)}) over {row.Channel.ToUpperInvariant()}\r\n\r\n" +
            "If these attempts were not yours, someone may be guessing the password: change it after the lock ends.\r\n" +
            $"An administrator can lift the lock now: POST /api/v1/accounts/{account}/unlock (grainmail logins unlock {account}).\r\n";
        await SendAsync(account, [account, .. admins.Where(a => a != account)], LockoutSubject, text);
    }

    private async Task SendAsync(string account, IReadOnlyList<string> mailboxes, string subject, string text)
    {
        var domain = account[(account.LastIndexOf('@') + 1)..];
        var m = new MimeMessage();
        m.From.Add(new MailboxAddress("Mail security", $"postmaster@{domain}"));
        foreach (var to in mailboxes) m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Date = clock.GetUtcNow();
        m.MessageId = MimeUtils.GenerateMessageId(domain);
        m.Headers.Add("Auto-Submitted", "auto-generated");
        m.Body = new TextPart("plain") { Text = text };
        using var output = new MemoryStream();
        m.WriteTo(FormatOptions.Default.Clone(), output);
        await submitter.SubmitAsync(new Submission(null, mailboxes, output.ToArray()));
    }

    public static string PlaceText(LoginRow row) =>
        row.Country is null ? "unknown" : string.Join(", ", new[] { row.City, row.Region, row.Country }.Where(p => p is not null));
}
