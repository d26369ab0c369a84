using GrainMail.Operations;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Npgsql;

namespace GrainMail.Storage.Telemetry;

/// <summary>
/// Gauges read from the queue tables: per stream partition the age of the oldest unconsumed
/// event (the delivery lag) and how many wait, and the outbound queue by the link its messages
/// last went out on. The numbers are the whole cluster's (the tables are shared), so every silo
/// reports the same ones; dashboards take the max per series.
/// </summary>
/// <remarks>
/// One reading (two aggregate queries) serves every gauge and is kept for
/// <see cref="MaxAge"/>: a scrape makes at most one round of queries however many series it
/// collects, and no scrape means no queries at all. A scrape that finds the reading stale waits
/// briefly for the new one, so what it exports is at most <see cref="MaxAge"/> old.
/// </remarks>
public sealed class QueueGauges
{
    /// <summary>Messages in the outbound queue that no attempt has been made for yet.</summary>
    public const string NoLinkYet = "none";

    private static readonly TimeSpan WaitForReading = TimeSpan.FromSeconds(2);

    private readonly NpgsqlDataSource _dataSource;
    private readonly int _queueCount;
    private readonly IReadOnlyList<string> _links;
    private readonly Lock _lock = new();
    private Reading? _reading;
    private long _readAt;
    private Task? _refresh;

    private sealed record Reading(double[] LagSeconds, long[] Backlog, Dictionary<string, (long Messages, long Recipients)> Outbound);

    public QueueGauges(NpgsqlDataSource dataSource, int queueCount, IReadOnlyList<string> links)
    {
        _dataSource = dataSource;
        _queueCount = queueCount;
        _links = links;
        var meter = GrainMailMeters.Gauges;
        meter.CreateObservableGauge("grainmail.delivery.queue.lag", ObserveLag, unit: "s",
            description: "Age of the oldest unconsumed event per stream partition (0 when empty)");
        meter.CreateObservableGauge("grainmail.delivery.queue.backlog", ObserveBacklog,
            description: "Unconsumed events per stream partition");
        meter.CreateObservableGauge("grainmail.outbound.queue.messages", ObserveOutboundMessages,
            description: "Messages waiting in the outbound queue, by the link of their last attempt (none: not tried yet)");
        meter.CreateObservableGauge("grainmail.outbound.queue.recipients", ObserveOutboundRecipients,
            description: "Recipients waiting in the outbound queue, by the link of their message's last attempt");
    }

    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(5);

    private IEnumerable<Measurement<double>> ObserveLag()
    {
        if (Current() is not { } r) yield break;
        for (var q = 0; q < r.LagSeconds.Length; q++) yield return new(r.LagSeconds[q], new KeyValuePair<string, object?>("queue", q.ToString()));
    }

    private IEnumerable<Measurement<long>> ObserveBacklog()
    {
        if (Current() is not { } r) yield break;
        for (var q = 0; q < r.Backlog.Length; q++) yield return new(r.Backlog[q], new KeyValuePair<string, object?>("queue", q.ToString()));
    }

    private IEnumerable<Measurement<long>> ObserveOutboundMessages() =>
        Current() is { } r ? r.Outbound.Select(o => new Measurement<long>(o.Value.Messages, new KeyValuePair<string, object?>("link", o.Key))) : [];

    private IEnumerable<Measurement<long>> ObserveOutboundRecipients() =>
        Current() is { } r ? r.Outbound.Select(o => new Measurement<long>(o.Value.Recipients, new KeyValuePair<string, object?>("link", o.Key))) : [];

    /// <summary>The latest reading, refreshed when older than <see cref="MaxAge"/>; null when the database could not be read.</summary>
    private Reading? Current()
    {
        Task? refresh = null;
        lock (_lock)
        {
            if (Stopwatch.GetElapsedTime(_readAt) >= MaxAge || _readAt == 0)
            {
                _refresh ??= Task.Run(RefreshAsync);
                refresh = _refresh;
            }
        }
        // Observable callbacks are synchronous; a bounded wait keeps a slow database from holding a scrape.
        refresh?.Wait(WaitForReading);
        return Volatile.Read(ref _reading);
    }

    private async Task RefreshAsync()
    {
        Reading? reading = null;
        try
        {
            reading = await ReadAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            // Export nothing rather than stale numbers: a gap on the dashboard says "unknown".
        }
        lock (_lock)
        {
            Volatile.Write(ref _reading, reading);
            _readAt = Stopwatch.GetTimestamp();
            _refresh = null;
        }
    }

    private async Task<Reading> ReadAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var conn = await _dataSource.OpenConnectionAsync(cts.Token);
        var lag = new double[_queueCount];
        var backlog = new long[_queueCount];
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT queue_id, count(*), extract(epoch FROM now() - min(enqueued_at))::float8
            FROM stream_queue GROUP BY queue_id
            """, conn))
        {
            await using var r = await cmd.ExecuteReaderAsync(cts.Token);
            while (await r.ReadAsync(cts.Token))
            {
                var q = r.GetInt32(0);
                if (q < 0 || q >= _queueCount) continue; // a partition from a different queue count: not ours to show
                backlog[q] = r.GetInt64(1);
                lag[q] = Math.Max(0, r.GetDouble(2));
            }
        }
        // The queue row does not record a link; the send log does. The last attempt's link is the
        // one a message is waiting on (a deferred message is retried on the route's current choice).
        var outbound = _links.ToDictionary(l => l, _ => (0L, 0L), StringComparer.Ordinal);
        outbound[NoLinkYet] = (0, 0);
        await using (var cmd = new NpgsqlCommand(
            """
            SELECT coalesce(a.link, 'none'), count(*), sum(cardinality(m.recipients))::bigint
            FROM outbound_message m
            LEFT JOIN LATERAL (SELECT link FROM outbound_attempt WHERE message_id = m.id ORDER BY at DESC, id DESC LIMIT 1) a ON true
            GROUP BY 1
            """, conn))
        {
            await using var r = await cmd.ExecuteReaderAsync(cts.Token);
            while (await r.ReadAsync(cts.Token)) outbound[r.GetString(0)] = (r.GetInt64(1), r.GetInt64(2));
        }
        return new Reading(lag, backlog, outbound);
    }
}
