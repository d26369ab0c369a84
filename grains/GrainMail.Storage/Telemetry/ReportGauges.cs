using System.Diagnostics;
using System.Diagnostics.Metrics;
using GrainMail.Operations;
using GrainMail.Storage.Governance;

namespace GrainMail.Storage.Telemetry;

/// <summary>
/// Today's report counters (UTC day) as gauges for the SRE view: <c>grainmail.report.received</c>
/// by domain and origin (internal, external), <c>grainmail.report.sent</c> by domain and
/// destination (internal, external), <c>grainmail.report.logins</c> by domain, channel and result.
/// The numbers are the cluster's (shared tables), so every silo reports the same; one reading
/// serves a scrape and is kept for <see cref="MaxAge"/>.
/// </summary>
public sealed class ReportGauges
{
    private static readonly TimeSpan WaitForReading = TimeSpan.FromSeconds(2);
    private readonly ReportStore _store;
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private Reading? _reading;
    private long _readAt;
    private Task? _refresh;

    private sealed record Reading(IReadOnlyList<DomainToday> Mail, IReadOnlyList<(string Domain, string Channel, string Result, long Logins)> Logins);

    public ReportGauges(ReportStore store, TimeProvider clock)
    {
        _store = store;
        _clock = clock;
        var meter = GrainMailMeters.Gauges;
        meter.CreateObservableGauge("grainmail.report.received", () => Current() is { } r
            ? r.Mail.SelectMany(d => new[]
            {
                new Measurement<long>(d.ReceivedInternal, Tag("domain", d.Domain), Tag("origin", "internal")),
                new Measurement<long>(d.Received - d.ReceivedInternal, Tag("domain", d.Domain), Tag("origin", "external")),
            })
            : [], description: "Messages delivered to the domain's mailboxes today (UTC), by origin");
        meter.CreateObservableGauge("grainmail.report.sent", () => Current() is { } r
            ? r.Mail.SelectMany(d => new[]
            {
                new Measurement<long>(d.Sent - d.SentExternal, Tag("domain", d.Domain), Tag("destination", "internal")),
                new Measurement<long>(d.SentExternal, Tag("domain", d.Domain), Tag("destination", "external")),
            })
            : [], description: "Messages the domain's accounts submitted today (UTC), by destination");
        meter.CreateObservableGauge("grainmail.report.logins", () => Current() is { } r
            ? r.Logins.Select(l => new Measurement<long>(l.Logins, Tag("domain", l.Domain), Tag("channel", l.Channel), Tag("result", l.Result)))
            : [], description: "Login attempts today (UTC), by domain, channel and result");
    }

    public TimeSpan MaxAge { get; init; } = TimeSpan.FromSeconds(15);

    private static KeyValuePair<string, object?> Tag(string k, string v) => new(k, v);

    private Reading? Current()
    {
        Task? refresh = null;
        lock (_lock)
        {
            if (_readAt == 0 || Stopwatch.GetElapsedTime(_readAt) >= MaxAge)
            {
                _refresh ??= Task.Run(RefreshAsync);
                refresh = _refresh;
            }
        }
        refresh?.Wait(WaitForReading);
        return Volatile.Read(ref _reading);
    }

    private async Task RefreshAsync()
    {
        try
        {
            var today = DateOnly.FromDateTime(_clock.GetUtcNow().UtcDateTime);
            var reading = new Reading(await _store.DayTotalsAsync(today), await _store.LoginTotalsAsync(today));
            Volatile.Write(ref _reading, reading);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException)
        {
            // Keep the last reading; the next scrape tries again.
        }
        finally
        {
            lock (_lock)
            {
                _readAt = Stopwatch.GetTimestamp();
                _refresh = null;
            }
        }
    }
}
