using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace GrainMail.Operations;

/// <summary>
/// GrainMail's meters, one per concern, exported with Orleans' and the runtime's on /metrics.
/// Names follow OpenTelemetry conventions (dots; Prometheus shows them with underscores and
/// <c>_total</c> on counters). Tags are low-cardinality: listener, reason, command, link, outcome,
/// operation, queue (a partition number), region.
/// </summary>
public static class GrainMailMeters
{
    public const string Prefix = "GrainMail.";

    /// <summary>Every GrainMail meter, for the host's metrics pipeline to listen to.</summary>
    public static readonly string[] MeterNames =
        ["GrainMail.Smtp", "GrainMail.Imap", "GrainMail.Pop3", "GrainMail.Delivery", "GrainMail.Outbound", "GrainMail.Storage", "GrainMail.Gauges"];

    private static readonly Meter Smtp = new("GrainMail.Smtp");
    private static readonly Meter Imap = new("GrainMail.Imap");
    private static readonly Meter Pop3 = new("GrainMail.Pop3");
    private static readonly Meter Delivery = new("GrainMail.Delivery");
    private static readonly Meter Outbound = new("GrainMail.Outbound");
    private static readonly Meter Storage = new("GrainMail.Storage");

    /// <summary>
    /// Meter for the observable gauges (queue lag and depth, cluster membership): their callbacks
    /// belong to objects with services (a data source, the membership view), so those create them.
    /// </summary>
    public static readonly Meter Gauges = new("GrainMail.Gauges");

    public static readonly Counter<long> SmtpConnections = Smtp.CreateCounter<long>("grainmail.smtp.connections", description: "SMTP connections accepted, by listener");
    public static readonly UpDownCounter<long> SmtpSessions = Smtp.CreateUpDownCounter<long>("grainmail.smtp.sessions", description: "Open SMTP sessions, by listener");
    public static readonly Counter<long> SmtpAccepted = Smtp.CreateCounter<long>("grainmail.smtp.messages.accepted", description: "Messages answered 250 after the durable commit, by listener");
    public static readonly Counter<long> SmtpRejected = Smtp.CreateCounter<long>("grainmail.smtp.rejected", description: "Refused recipients and messages, by reason");
    public static readonly Counter<long> SmtpBytes = Smtp.CreateCounter<long>("grainmail.smtp.bytes", description: "Message bytes accepted");
    public static readonly Histogram<double> SmtpCommit = Smtp.CreateHistogram<double>("grainmail.smtp.commit.duration", unit: "ms", description: "Durable commit time of an accepted message");

    public static readonly UpDownCounter<long> ImapSessions = Imap.CreateUpDownCounter<long>("grainmail.imap.sessions", description: "Open IMAP sessions (tag protocol=imap)");
    public static readonly UpDownCounter<long> ImapIdle = Imap.CreateUpDownCounter<long>("grainmail.imap.idle", description: "IMAP sessions in IDLE");
    public static readonly Counter<long> ImapCommands = Imap.CreateCounter<long>("grainmail.imap.commands", description: "IMAP commands, by name and result");
    public static readonly Histogram<double> ImapCommandDuration = Imap.CreateHistogram<double>("grainmail.imap.command.duration", unit: "ms", description: "IMAP command latency, by name");
    public static readonly Counter<long> ImapViewSyncs = Imap.CreateCounter<long>("grainmail.imap.view_syncs", description: "Selected-folder updates taken in, by source: notice (the change came with its notice) or grain (GetChanges)");

    public static readonly UpDownCounter<long> Pop3Sessions = Pop3.CreateUpDownCounter<long>("grainmail.pop3.sessions", description: "Open POP3 sessions, by listener");
    public static readonly Counter<long> Pop3Commands = Pop3.CreateCounter<long>("grainmail.pop3.commands", description: "POP3 commands, by name and result");

    public static readonly Counter<long> Delivered = Delivery.CreateCounter<long>("grainmail.delivery.delivered", description: "Messages stored in mailboxes from the inbound stream");
    public static readonly Counter<long> DeadLetters = Delivery.CreateCounter<long>("grainmail.delivery.dead_letters", description: "Inbound events dead-lettered, by reason");

    public static readonly Counter<long> OutboundAttempts = Outbound.CreateCounter<long>("grainmail.outbound.attempts", description: "Outbound delivery attempts per recipient, by link and outcome");

    public static readonly Counter<long> BlobBytesWritten = Storage.CreateCounter<long>("grainmail.storage.blob.written", unit: "By", description: "Message bytes of new blobs written to PostgreSQL (before encryption)");
    public static readonly Histogram<double> PgDuration = Storage.CreateHistogram<double>("grainmail.storage.pg.duration", unit: "ms", description: "PostgreSQL call latency of the main store operations, by operation");

    /// <summary>
    /// Times one PostgreSQL call into <see cref="PgDuration"/> when disposed:
    /// <c>using var _ = GrainMailMeters.TimePg("mailbox.commit");</c>. A struct, so the hot paths
    /// (commit, lease, deliver) pay a timestamp and one histogram record, no allocation.
    /// </summary>
    public static PgTimer TimePg(string operation) => new(operation, Stopwatch.GetTimestamp());

    public readonly struct PgTimer(string operation, long started) : IDisposable
    {
        public void Dispose() =>
            PgDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("operation", operation));
    }

    /// <summary>The stages of an MX message on the silo with filtering on (issue 14: where the SMTP path's time goes).</summary>
    public static readonly Histogram<double> TrustStageDuration = Storage.CreateHistogram<double>("grainmail.trust.stage.duration", unit: "ms",
        description: "Inbound trust stages of the MX path (virus scan, checks, decision, content, commit, receive log), by stage");

    public static TrustTimer TimeTrust(string stage) => new(stage, Stopwatch.GetTimestamp());

    public readonly struct TrustTimer(string stage, long started) : IDisposable
    {
        public void Dispose() =>
            TrustStageDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, new KeyValuePair<string, object?>("stage", stage));
    }
}

/// <summary>
/// GrainMail's traces: one message is one trace — the gateway's span, the durable commit, and
/// each mailbox's delivery (the trace context rides in the stream event, since the stream hop is
/// not a grain call that Orleans' own propagation would see).
/// </summary>
public static class GrainMailTracing
{
    public const string SourceName = "GrainMail";

    public static readonly System.Diagnostics.ActivitySource Source = new(SourceName);
}
