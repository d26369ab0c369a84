using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>/metrics of a running node after real SMTP and IMAP traffic: the counters say what was sent.</summary>
public sealed class MetricsTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    /// <summary>The value of the series with this name whose labels include every given one (summed over the rest).</summary>
    private static double Value(string metrics, string name, params (string Label, string Value)[] labels)
    {
        var total = 0.0;
        var found = false;
        foreach (Match m in Regex.Matches(metrics, $@"^{Regex.Escape(name)}(\{{(?<labels>[^}}]*)\}})? (?<value>\S+)", RegexOptions.Multiline))
        {
            var text = m.Groups["labels"].Value;
            if (!labels.All(l => text.Contains($"{l.Label}=\"{l.Value}\""))) continue;
            total += double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            found = true;
        }
        Assert.True(found, $"no series {name} with {string.Join(",", labels)}");
        return total;
    }

    [Fact]
    public async Task Metrics_count_what_was_sent_over_SMTP_and_IMAP()
    {
        using (var c = new SmtpClient())
        {
            await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            for (var i = 0; i < 2; i++)
            {
                var m = new MimeMessage();
                m.From.Add(MailboxAddress.Parse("someone@elsewhere.test"));
                m.To.Add(MailboxAddress.Parse($"carol@{D}"));
                m.Subject = $"counted {i}";
                m.Body = new TextPart("plain") { Text = "x\r\n" };
                await c.SendAsync(m);
            }
            await c.DisconnectAsync(true);
        }
        var (raw, _) = await RawSmtp.ConnectAsync(host.Mx);
        await using (raw)
        {
            await raw.CommandAsync("EHLO client.example.org");
            await raw.CommandAsync("MAIL FROM:<someone@elsewhere.test>");
            Assert.StartsWith("550 5.1.1", await raw.CommandAsync($"RCPT TO:<nobody-here@{D}>"));
        }
        await host.WaitForMessages($"carol@{D}", 2);
        await using (var imap = await RawImap.LoginAsync(host.Imaps, $"carol@{D}", SmtpHostFixture.Password))
        {
            await imap.CommandAsync("SELECT INBOX");
            await imap.CommandAsync("FETCH 1:* (FLAGS)");
        }

        string after = "";
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(500); // the exporter caches a scrape briefly
            after = await host.Host.Http.GetStringAsync("/metrics");
            if (Regex.IsMatch(after, @"^grainmail_imap_commands_total\{[^}]*command=""FETCH""", RegexOptions.Multiline)) break;
        }
        Assert.Equal(2, Value(after, "grainmail_smtp_messages_accepted_total", ("listener", "Mx")));
        Assert.Equal(1, Value(after, "grainmail_smtp_rejected_total", ("reason", "5.1.1")));
        Assert.True(Value(after, "grainmail_smtp_connections_total", ("listener", "Mx")) >= 2);
        Assert.True(Value(after, "grainmail_smtp_bytes_total") > 0);
        Assert.Equal(2, Value(after, "grainmail_smtp_commit_duration_milliseconds_count", ("listener", "Mx")));
        Assert.True(Value(after, "grainmail_delivery_delivered_total") >= 2);
        Assert.Equal(1, Value(after, "grainmail_imap_commands_total", ("command", "SELECT")));
        Assert.Equal(1, Value(after, "grainmail_imap_commands_total", ("command", "FETCH")));
        Assert.Equal(1, Value(after, "grainmail_imap_command_duration_milliseconds_count", ("command", "FETCH")));
        // Orleans' own meter and the runtime's are exported too.
        Assert.Matches(new Regex("^orleans_", RegexOptions.Multiline), after);
        Assert.Matches(new Regex("^dotnet_gc_", RegexOptions.Multiline), after);
    }
}
