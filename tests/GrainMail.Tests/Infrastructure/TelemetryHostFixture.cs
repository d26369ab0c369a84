using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A host for the telemetry tests, with a DNS server of its own so that outbound mail can be
/// made to wait: <c>down.test</c>'s MX is 127.0.0.3, where nothing listens, so a message to it
/// is tried once, deferred, and stays queued (retries are a minute apart).
/// </summary>
public sealed class TelemetryHostFixture : SmtpHostFixture
{
    public const string DownDomain = "down.test";

    /// <summary>The partition where <see cref="RunTrafficAsync"/> leaves an event stuck for an hour.</summary>
    public const int StuckQueue = 5;

    public TestDnsServer Dns { get; } = new();

    public TelemetryHostFixture()
    {
        Dns.Mx[DownDomain] = [(10, "mx." + DownDomain)];
        Dns.A["mx." + DownDomain] = IPAddress.Parse("127.0.0.3");
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        // A port nothing on this machine listens on, whatever else runs here (an anchor MTA on 25).
        ["GRAINMAIL_SMTP_OUT_PORT"] = HostProcess.FreePort().ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Sizes of the messages <see cref="RunTrafficAsync"/> sent over the MX port, as sent.</summary>
    public List<long> SentSizes { get; } = [];

    /// <summary>
    /// The traffic the telemetry tests count: two messages to carol over MX, one unknown recipient,
    /// one submission by alice to an external recipient that cannot be reached, an IMAP SELECT,
    /// FETCH and IDLE, a POP3 login with STAT, an unreadable queue event (dead-lettered) and an event leased for an hour that was
    /// enqueued two minutes ago (lag). Returns the /metrics text once all of it shows there.
    /// </summary>
    public async Task<string> RunTrafficAsync()
    {
        const string d = Domain;
        using (var c = new SmtpClient())
        {
            await c.ConnectAsync("127.0.0.1", Mx, SecureSocketOptions.None);
            for (var i = 0; i < 2; i++)
            {
                var m = new MimeMessage();
                m.From.Add(MailboxAddress.Parse("someone@elsewhere.test"));
                m.To.Add(MailboxAddress.Parse($"carol@{d}"));
                m.Subject = $"counted {i}";
                m.Body = new TextPart("plain") { Text = "x\r\n" };
                using var size = new MemoryStream();
                await m.WriteToAsync(FormatOptions.Default, size);
                SentSizes.Add(size.Length);
                await c.SendAsync(m);
            }
            await c.DisconnectAsync(true);
        }
        var (raw, _) = await RawSmtp.ConnectAsync(Mx);
        await using (raw)
        {
            await raw.CommandAsync("EHLO client.example.org");
            await raw.CommandAsync("MAIL FROM:<someone@elsewhere.test>");
            var reply = await raw.CommandAsync($"RCPT TO:<nobody-here@{d}>");
            if (!reply.StartsWith("550 5.1.1", StringComparison.Ordinal)) throw new InvalidOperationException("expected 550 5.1.1, got " + reply);
        }
        using (var c = new SmtpClient { ServerCertificateValidationCallback = (_, _, _, _) => true })
        {
            await c.ConnectAsync("127.0.0.1", Submission, SecureSocketOptions.StartTls);
            await c.AuthenticateAsync($"alice@{d}", Password);
            var m = new MimeMessage();
            m.From.Add(MailboxAddress.Parse($"alice@{d}"));
            m.To.Add(MailboxAddress.Parse($"someone@{DownDomain}"));
            m.Subject = "will wait";
            m.Body = new TextPart("plain") { Text = "queued\r\n" };
            await c.SendAsync(m);
            await c.DisconnectAsync(true);
        }
        await WaitForMessages($"carol@{d}", 2);
        await using (var imap = await RawImap.LoginAsync(Imaps, $"carol@{d}", Password))
        {
            await imap.CommandAsync("SELECT INBOX");
            await imap.CommandAsync("FETCH 1:* (FLAGS)");
            var tag = imap.NextTag();
            await imap.SendRawAsync($"{tag} IDLE\r\n");
            var idling = await imap.ReadLineAsync();
            if (idling?.StartsWith('+') != true) throw new InvalidOperationException("expected +, got " + idling);
            await imap.SendRawAsync("DONE\r\n");
            await imap.ReadTaggedAsync(tag);
        }
        var (pop, _) = await RawImap.ConnectAsync(Pop3s, implicitTls: true);
        await using (pop)
        {
            foreach (var command in new[] { $"USER carol@{d}", $"PASS {Password}", "STAT", "QUIT" })
            {
                await pop.SendRawAsync(command + "\r\n");
                var reply = await pop.ReadLineAsync();
                if (reply?.StartsWith("+OK", StringComparison.Ordinal) != true) throw new InvalidOperationException($"POP3 {command.Split(' ')[0]}: {reply}");
            }
        }
        await using (var ds = NpgsqlDataSource.Create(ConnectionString))
        {
            // Garbage is dead-lettered by the partition's reader; the leased event waits an hour.
            await using var cmd = ds.CreateCommand(
                """
                INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload) VALUES (0, 'inbound', 'carol@smtp.test', '\x7b6e6f74'::bytea);
                INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload, enqueued_at, visible_at, dequeue_count)
                VALUES (@q, 'inbound', 'carol@smtp.test', '\x7b6e6f74'::bytea, now() - interval '2 minutes', now() + interval '1 hour', 1);
                """);
            cmd.Parameters.AddWithValue("q", StuckQueue);
            await cmd.ExecuteNonQueryAsync();
        }

        static bool Complete(string text) =>
            Regex.IsMatch(text, @"^grainmail_imap_commands_total\{[^}]*command=""FETCH""", RegexOptions.Multiline)
            && Regex.IsMatch(text, @"^grainmail_pop3_commands_total\{[^}]*command=""QUIT""", RegexOptions.Multiline)
            && Prometheus.Has(text, "grainmail_outbound_attempts_total")
            && Prometheus.Has(text, "grainmail_delivery_dead_letters_total")
            && Prometheus.Values(text, "grainmail_outbound_queue_messages", ("link", "direct")).Sum() == 1
            // One reading of the queue table after the garbage event was dead-lettered: only the stuck one left.
            && Prometheus.Values(text, "grainmail_delivery_queue_backlog").Sum() == 1
            && Prometheus.Values(text, "grainmail_delivery_queue_backlog", ("queue", StuckQueue.ToString(CultureInfo.InvariantCulture))).Sum() == 1;
        var text = "";
        try
        {
            // Every 500 ms: the exporter caches a scrape briefly, the queue gauges for 5 s.
            await Eventually.Until(async () => Complete(text = await Host.Http.GetStringAsync("/metrics")), TimeSpan.FromSeconds(45),
                "a scrape showing all of the traffic", poll: TimeSpan.FromMilliseconds(500));
        }
        catch (TimeoutException)
        {
            // The last scrape goes to the tests: their own assertions name the series that is missing.
        }
        return text;
    }
}

/// <summary>Reading the Prometheus text format the host exports.</summary>
public static class Prometheus
{
    /// <summary>The values of the series with this name whose labels include every given one.</summary>
    public static List<double> Values(string metrics, string name, params (string Label, string Value)[] labels)
    {
        var values = new List<double>();
        foreach (Match m in Regex.Matches(metrics, $@"^{Regex.Escape(name)}(\{{(?<labels>[^}}]*)\}})? (?<value>\S+)", RegexOptions.Multiline))
        {
            var text = m.Groups["labels"].Value;
            if (!labels.All(l => text.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal))) continue;
            values.Add(double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
        }
        return values;
    }

    public static bool Has(string metrics, string name) => Values(metrics, name).Count > 0;

    /// <summary>The sum over the matching series; fails when there is none.</summary>
    public static double Value(string metrics, string name, params (string Label, string Value)[] labels)
    {
        var values = Values(metrics, name, labels);
        Assert.True(values.Count > 0, $"no series {name} with {string.Join(",", labels)}");
        return values.Sum();
    }

    /// <summary>Every metric name in the text (series names, so histograms give _bucket, _sum and _count).</summary>
    public static HashSet<string> Names(string metrics) =>
        Regex.Matches(metrics, @"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
}
