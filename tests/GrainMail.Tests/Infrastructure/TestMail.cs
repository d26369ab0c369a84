using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests.Infrastructure;

/// <summary>Sending test mail the way clients do: submission with a login, or the MX port as another MTA.</summary>
public static class TestMail
{
    public static MimeMessage Text(string from, string to, string subject, string text = "x")
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.Body = new TextPart("plain") { Text = text + "\r\n" };
        return m;
    }

    /// <summary>Submission over implicit TLS (the test host's self-signed certificate accepted), logged in.</summary>
    public static async Task SubmitAsync(int submissionsPort, string user, string password, string to, string subject)
    {
        using var c = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true };
        await c.ConnectAsync("127.0.0.1", submissionsPort, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, password);
        await c.SendAsync(Text(user, to, subject));
        await c.DisconnectAsync(true);
    }

    /// <summary>A message from outside to a local mailbox, over the MX port.</summary>
    public static async Task SendToMxAsync(int mxPort, string to, string subject, string text = "x")
    {
        using var smtp = new SmtpClient();
        await smtp.ConnectAsync("127.0.0.1", mxPort, SecureSocketOptions.None);
        await smtp.SendAsync(Text("someone@elsewhere.example", to, subject, text));
        await smtp.DisconnectAsync(true);
    }
}
