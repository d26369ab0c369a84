using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>
/// Daily reports (issue 17, Reports) from real SMTP traffic (MX and authenticated submission) and
/// login_log rows: the counters kept at commit time and by the login trigger, through the API as
/// JSON and CSV and as Prometheus gauges.
/// </summary>
public sealed class ReportTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    // The class's own host: nothing else sends to its domain, so the counters are exact.
    private const string D = SmtpHostFixture.Domain;

    private static MimeMessage Message(string from, IEnumerable<string> to, string subject)
    {
        var m = new MimeMessage { Subject = subject };
        m.From.Add(MailboxAddress.Parse(from));
        foreach (var t in to) m.To.Add(MailboxAddress.Parse(t));
        m.Body = new TextPart("plain") { Text = "Figures attached.\r\n" };
        return m;
    }

    private async Task Mx(MimeMessage m)
    {
        using var smtp = new SmtpClient { Timeout = 30_000 };
        await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
    }

    /// <summary>Asks for no DSN (RFC 3461 NOTIFY=NEVER): a bounce from the unreachable outside recipient would be one more message received.</summary>
    private sealed class QuietSmtpClient : SmtpClient
    {
        protected override DeliveryStatusNotification? GetDeliveryStatusNotifications(MimeMessage message, MailboxAddress mailbox) =>
            DeliveryStatusNotification.Never;
    }

    private async Task Submit(string user, MimeMessage m)
    {
        using var smtp = new QuietSmtpClient { Timeout = 30_000, ServerCertificateValidationCallback = (_, _, _, _) => true };
        await smtp.ConnectAsync("127.0.0.1", host.Submission, SecureSocketOptions.StartTls);
        await smtp.AuthenticateAsync(user, SmtpHostFixture.Password);
        await smtp.SendAsync(m);
        await smtp.DisconnectAsync(true);
    }

    [Fact]
    public async Task Daily_and_account_counts_follow_real_traffic_and_login_rows()
    {
        var alice = $"alice@{D}";
        var bob = $"bob@{D}";
        var carol = $"carol@{D}";
        // Two copies from outside (external), then alice to bob and outside, bob to alice, alice to carol.
        await Mx(Message("partner@outside.test", [alice, bob], "from a partner"));
        await Submit(alice, Message(alice, [bob, "someone@external.invalid"], "to bob and out"));
        await Submit(bob, Message(bob, [alice], "reply"));
        await Submit(alice, Message(alice, [carol], "to carol"));
        await host.WaitForMessages(carol, 1);

        // Two IMAP logins from Berlin and a failed SMTP one from nowhere known, as the login guard writes them.
        await using (var db = NpgsqlDataSource.Create(host.ConnectionString))
        {
            foreach (var (channel, result, country, city) in new[] { ("imap", "ok", "DE", "Berlin"), ("imap", "ok", "DE", "Berlin"), ("smtp", "failed", "ZZ", (string?)null) })
            {
                await using var cmd = db.CreateCommand("INSERT INTO login_log (account, channel, client_ip, result, country, city) VALUES (@a, @ch, '192.0.2.7', @r, @c, @city)");
                cmd.Parameters.AddWithValue("a", alice);
                cmd.Parameters.AddWithValue("ch", channel);
                cmd.Parameters.AddWithValue("r", result);
                cmd.Parameters.AddWithValue("c", country);
                cmd.Parameters.AddWithValue("city", (object?)city ?? DBNull.Value);
                await cmd.ExecuteNonQueryAsync();
            }
        }

        var today = DateTime.UtcNow.ToString("yyyy-MM-dd");
        var days = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{D}/reports/daily?from={today}&to={today}");
        var day = days.EnumerateArray().Single();
        Assert.Equal(today, day.GetProperty("day").GetString());
        Assert.Equal(5, day.GetProperty("received").GetInt64());
        Assert.Equal(3, day.GetProperty("receivedInternal").GetInt64());
        Assert.Equal(2, day.GetProperty("receivedExternal").GetInt64());
        Assert.Equal(3, day.GetProperty("sent").GetInt64());
        Assert.Equal(1, day.GetProperty("sentExternal").GetInt64());
        Assert.Equal(2, day.GetProperty("sentInternal").GetInt64());
        var top = day.GetProperty("topSenders").EnumerateArray().Select(t => (t.GetProperty("account").GetString(), t.GetProperty("sent").GetInt64())).ToList();
        Assert.Equal([(alice, 2L), (bob, 1L)], top);
        var logins = day.GetProperty("logins").EnumerateArray().ToList();
        Assert.Equal(2, logins.Single(l => l.GetProperty("country").GetString() == "DE").GetProperty("logins").GetInt64());
        var failed = logins.Single(l => l.GetProperty("country").GetString() == "ZZ");
        Assert.Equal(("smtp", "failed", "", 1L), (failed.GetProperty("channel").GetString(), failed.GetProperty("result").GetString(),
            failed.GetProperty("city").GetString(), failed.GetProperty("logins").GetInt64()));

        var accounts = (await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{D}/reports/accounts"))
            .EnumerateArray().ToDictionary(a => a.GetProperty("account").GetString()!, a => (a.GetProperty("received").GetInt64(), a.GetProperty("sent").GetInt64()));
        Assert.Equal((2L, 2L), accounts[alice]);
        Assert.Equal((2L, 1L), accounts[bob]);
        Assert.Equal((1L, 0L), accounts[carol]);

        var csv = await host.Host.Http.GetAsync($"/api/v1/domains/{D}/reports/daily?format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("day,received,received_internal,received_external,sent,sent_internal,sent_external,top_senders,logins", lines[0]);
        Assert.StartsWith($"{today},5,3,2,3,2,1,{alice}=2 {bob}=1,", lines[1]);
        var accountsCsv = await host.Host.Http.GetStringAsync($"/api/v1/domains/{D}/reports/accounts?format=csv");
        Assert.Contains($"{alice},{today},2,2\r\n", accountsCsv);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Host.Http.GetAsync($"/api/v1/domains/{D}/reports/daily?from={today}&to=2000-01-01")).StatusCode);

        // The same numbers for the SRE view.
        var metrics = "";
        await Eventually.Until(async () =>
        {
            metrics = await host.Host.Http.GetStringAsync("/metrics");
            return Prometheus.Values(metrics, "grainmail_report_sent", ("domain", D), ("destination", "external")).Sum() == 1;
        }, TimeSpan.FromSeconds(30), "the report gauges", poll: TimeSpan.FromMilliseconds(500));
        Assert.Equal(2, Prometheus.Value(metrics, "grainmail_report_received", ("domain", D), ("origin", "external")));
        Assert.Equal(3, Prometheus.Value(metrics, "grainmail_report_received", ("domain", D), ("origin", "internal")));
        Assert.Equal(2, Prometheus.Value(metrics, "grainmail_report_logins", ("domain", D), ("channel", "imap"), ("result", "ok")));
    }

    [Fact]
    public async Task List_deliveries_count_as_received_for_each_member()
    {
        // A domain of its own: the other test's exact counts stay exact.
        var domain = $"rl{Guid.NewGuid():N}"[..12] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await host.Post("/api/v1/domains", new { name = domain })).StatusCode);
        var members = new List<string>();
        foreach (var local in new[] { "ann", "ben", "cat" })
        {
            await host.NewAccount(local, domain);
            members.Add($"{local}@{domain}");
        }
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{domain}/lists", new { name = "all", postPolicy = "anyone" })).StatusCode);
        foreach (var m in members)
            Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{domain}/lists/all/members", new { account = m })).StatusCode);

        await Mx(Message("partner@outside.test", [$"all@{domain}"], "to the whole list"));
        await Mx(Message("partner@outside.test", [$"all@{domain}", members[0]], "to the list and ann"));
        foreach (var m in members) await host.WaitForMessages(m, m == members[0] ? 3 : 2);

        var today = DateTime.UtcNow.ToString("yyyy-MM-dd");
        var day = (await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/reports/daily?from={today}&to={today}")).EnumerateArray().Single();
        // Two posts to three members, and ann's own copy of the second: 7 received, all from outside.
        Assert.Equal(7, day.GetProperty("received").GetInt64());
        Assert.Equal(0, day.GetProperty("receivedInternal").GetInt64());
        var accounts = (await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{domain}/reports/accounts"))
            .EnumerateArray().ToDictionary(a => a.GetProperty("account").GetString()!, a => a.GetProperty("received").GetInt64());
        Assert.Equal(3, accounts[members[0]]);
        Assert.Equal(2, accounts[members[1]]);
        Assert.Equal(2, accounts[members[2]]);
    }
}
