using System.Collections.Concurrent;
using GrainMail.Contracts.Trust;

namespace GrainMail.Grains.Trust;

/// <summary>
/// This silo's view of the reputation grains the MX path reads: each grain's snapshot is fetched at most once
/// per <see cref="Freshness"/>, and the counts this silo records and the corrections its learners make are
/// applied to the view at once. Every message of a busy network reads the same grain; without the view each
/// one waits for a grain call (5.2 ms per message under load, session 6). On one silo the view matches the
/// grain; another silo's counts reach it within <see cref="Freshness"/>, which only shifts a score input.
/// </summary>
public sealed class ReputationView
{
    /// <summary>How old a fetched snapshot may get before the grain is asked again.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    private sealed record Entry(ReputationSnapshot Snapshot, long FetchedAt);

    public async ValueTask<ReputationSnapshot> GetAsync(IGrainFactory grains, string key)
    {
        var now = Environment.TickCount64;
        if (_entries.TryGetValue(key, out var e) && now - e.FetchedAt < Freshness.TotalMilliseconds) return e.Snapshot;
        // This silo's counts not yet sent go first, so that the snapshot read includes them (a learner's Forget
        // makes the next read ask the grain, and the counts of the last moments must not be missing from it).
        Send(grains, key);
        var snapshot = await grains.GetGrain<IReputationGrain>(key).Get();
        _entries[key] = new Entry(snapshot, now);
        if (_entries.Count > 100_000) _entries.Clear(); // many networks seen once: start over rather than grow
        return snapshot;
    }

    /// <summary>How long a silo's verdicts for one key are gathered before they go to the grain in one call.</summary>
    public static readonly TimeSpan RecordInterval = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly Lock _flushLock = new();
    private IGrainFactory? _grains;
    private Timer? _flush;

    private sealed class Pending
    {
        public int Spam;
        public int Ham;

        /// <summary>Taken out of the map by a flush: a Record that still holds it starts a new one.</summary>
        public bool Gone;
    }

    /// <summary>
    /// Counts one message's verdict in this view at once, and in the grain with the others of the next
    /// <see cref="RecordInterval"/>: one one-way call per key per interval instead of one per message (at
    /// 200 msg/s from one network that was 200 grain messages a second to one activation, each a
    /// serialisation and a turn on the same two cores). The counts not yet sent are lost with the silo, as a
    /// one-way call still in flight was before.
    /// </summary>
    public void Record(IGrainFactory grains, string key, bool spam)
    {
        _grains ??= grains;
        while (true)
        {
            var p = _pending.GetOrAdd(key, _ => new Pending());
            lock (p)
            {
                if (p.Gone) continue;
                if (spam) p.Spam++;
                else p.Ham++;
                break;
            }
        }
        if (_flush is null)
        {
            lock (_flushLock) _flush ??= new Timer(_ => Flush(), null, RecordInterval, RecordInterval);
        }
        while (_entries.TryGetValue(key, out var e))
        {
            var s = e.Snapshot;
            var counted = new ReputationSnapshot(s.Volume + 1, s.Spam + (spam ? 1 : 0), s.Ham + (spam ? 0 : 1));
            if (_entries.TryUpdate(key, e with { Snapshot = counted }, e)) break;
        }
    }

    /// <summary>Sends every key's gathered counts to its grain (one-way); also called by the timer.</summary>
    public void Flush()
    {
        if (_grains is not { } grains) return;
        foreach (var key in _pending.Keys) Send(grains, key);
    }

    /// <summary>One key's gathered counts to its grain now (a learner's correction is clamped to the grain's volume,
    /// so the counts it corrects must be there first).</summary>
    public void Flush(IGrainFactory grains, string key) => Send(grains, key);

    /// <summary>One key's gathered counts to its grain, one one-way call; a key with nothing new leaves the map.</summary>
    private void Send(IGrainFactory grains, string key)
    {
        if (!_pending.TryGetValue(key, out var p)) return;
        int spam, ham;
        lock (p)
        {
            (spam, ham) = (p.Spam, p.Ham);
            (p.Spam, p.Ham) = (0, 0);
            // Nothing new since the last flush: out of the map (networks seen once must not pile up).
            if (spam + ham == 0)
            {
                p.Gone = true;
                _pending.TryRemove(key, out _);
            }
        }
        if (spam + ham == 0) return;
        try
        {
            _ = grains.GetGrain<IReputationGrain>(key).Add(spam, ham);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Only a score input (a silo shutting down, say): an exception must not end the timer's process.
            System.Diagnostics.Trace.TraceWarning($"Reputation counts for {key} not sent: {e.Message}");
        }
    }

    /// <summary>A user's verdict corrected the grain: the next read asks it again.</summary>
    public void Forget(string key) => _entries.TryRemove(key, out _);
}
