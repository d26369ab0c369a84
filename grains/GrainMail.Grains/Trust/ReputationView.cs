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
        var snapshot = await grains.GetGrain<IReputationGrain>(key).Get();
        _entries[key] = new Entry(snapshot, now);
        if (_entries.Count > 100_000) _entries.Clear(); // many networks seen once: start over rather than grow
        return snapshot;
    }

    /// <summary>Counts one message's verdict in the grain (one-way) and in this view.</summary>
    public void Record(IGrainFactory grains, string key, bool spam)
    {
        _ = grains.GetGrain<IReputationGrain>(key).Record(spam);
        while (_entries.TryGetValue(key, out var e))
        {
            var s = e.Snapshot;
            var counted = new ReputationSnapshot(s.Volume + 1, s.Spam + (spam ? 1 : 0), s.Ham + (spam ? 0 : 1));
            if (_entries.TryUpdate(key, e with { Snapshot = counted }, e)) break;
        }
    }

    /// <summary>A user's verdict corrected the grain: the next read asks it again.</summary>
    public void Forget(string key) => _entries.TryRemove(key, out _);
}
