using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;
using static GrainMail.Tests.Infrastructure.Prometheus;

namespace GrainMail.Tests;

/// <summary>/metrics of a running node after real SMTP, IMAP and outbound traffic: the numbers say what was sent.</summary>
public sealed class MetricsTests(TelemetryHostFixture host) : IClassFixture<TelemetryHostFixture>
{
    [Fact]
    public async Task Metrics_count_what_was_sent_over_SMTP_and_IMAP_and_what_waits()
    {
        var after = await host.RunTrafficAsync();

        Assert.Equal(2, Value(after, "grainmail_smtp_messages_accepted_total", ("listener", "Mx")));
        Assert.Equal(1, Value(after, "grainmail_smtp_messages_accepted_total", ("listener", "Submission")));
        Assert.Equal(1, Value(after, "grainmail_smtp_rejected_total", ("reason", "5.1.1")));
        Assert.True(Value(after, "grainmail_smtp_connections_total", ("listener", "Mx")) >= 2);
        Assert.True(Value(after, "grainmail_smtp_bytes_total") > 0);
        Assert.Equal(2, Value(after, "grainmail_smtp_commit_duration_milliseconds_count", ("listener", "Mx")));
        Assert.True(Value(after, "grainmail_delivery_delivered_total") >= 2);
        Assert.Equal(1, Value(after, "grainmail_imap_commands_total", ("command", "SELECT")));
        Assert.Equal(1, Value(after, "grainmail_imap_commands_total", ("command", "FETCH")));
        Assert.Equal(1, Value(after, "grainmail_imap_command_duration_milliseconds_count", ("command", "FETCH")));
        // POP3 is counted as POP3: its own commands, its session on its own meter and not on IMAP's.
        Assert.Equal(1, Value(after, "grainmail_pop3_commands_total", ("command", "STAT")));
        Assert.Equal(1, Value(after, "grainmail_pop3_commands_total", ("command", "PASS")));
        Assert.Single(Values(after, "grainmail_pop3_sessions", ("listener", "pop3s")));
        Assert.Empty(Values(after, "grainmail_imap_sessions", ("protocol", "pop3")));

        // Storage: the two MX messages are two new blobs, stored with the headers the gateway adds.
        var blobBytes = Value(after, "grainmail_storage_blob_written_bytes_total");
        Assert.True(blobBytes >= host.SentSizes.Sum(), $"blob bytes {blobBytes} < sent {host.SentSizes.Sum()}");
        Assert.True(blobBytes < host.SentSizes.Sum() + 20_000, $"blob bytes {blobBytes}: far more than was sent");
        // One commit per message (each waited for its 250); deliveries are timed too (copies queued
        // for one mailbox at the same moment may share one transaction, so at least one).
        Assert.True(Value(after, "grainmail_storage_pg_duration_milliseconds_count", ("operation", "submit.commit")) >= 3);
        Assert.True(Value(after, "grainmail_storage_pg_duration_milliseconds_count", ("operation", "mailbox.deliver")) >= 1);
        Assert.True(Value(after, "grainmail_storage_pg_duration_milliseconds_count", ("operation", "queue.lease")) > 0);
        Assert.True(Value(after, "grainmail_storage_pg_duration_milliseconds_count", ("operation", "outbound.accept")) >= 1);

        // Delivery stream: every partition has its series; the event leased for an hour is the
        // only one waiting, and it was enqueued two minutes ago.
        for (var q = 0; q < 8; q++) Assert.Single(Values(after, "grainmail_delivery_queue_lag_seconds", ("queue", q.ToString())));
        var stuck = TelemetryHostFixture.StuckQueue.ToString();
        Assert.Equal(1, Value(after, "grainmail_delivery_queue_backlog"));
        Assert.Equal(1, Value(after, "grainmail_delivery_queue_backlog", ("queue", stuck)));
        var lag = Value(after, "grainmail_delivery_queue_lag_seconds", ("queue", stuck));
        Assert.InRange(lag, 115, 600);
        Assert.Equal(0, Value(after, "grainmail_delivery_queue_lag_seconds", ("queue", "1")));
        Assert.Equal(1, Value(after, "grainmail_delivery_dead_letters_total", ("reason", "unreadable")));

        // Outbound: the message to down.test was tried once on the direct link and waits there.
        Assert.Equal(1, Value(after, "grainmail_outbound_attempts_total", ("link", "direct"), ("outcome", "deferred")));
        Assert.Equal(1, Value(after, "grainmail_outbound_queue_messages", ("link", "direct")));
        Assert.Equal(1, Value(after, "grainmail_outbound_queue_recipients", ("link", "direct")));
        Assert.Equal(0, Value(after, "grainmail_outbound_queue_messages", ("link", "none")));

        Assert.Equal(1, Value(after, "grainmail_cluster_silos", ("region", "local")));
        // Orleans' own meter and the runtime's are exported too.
        Assert.Matches(new Regex("^orleans_", RegexOptions.Multiline), after);
        Assert.Matches(new Regex("^dotnet_gc_", RegexOptions.Multiline), after);
    }
}
