using System.Collections.Concurrent;
using GrainMail.Contracts.Trust;

namespace GrainMail.Grains.Trust;

/// <summary>
/// This silo's copy of the domains' spam policies the MX path reads: each domain's policy is asked of its grain at
/// most once per <see cref="Freshness"/>, and a change made through a grain on this silo ends the copy at once.
/// Every MX message read its recipient domains' policies with a grain call (session 10's profile: the call, its
/// two scheduler hops and the grain reference's type lookup were a tenth of what filtering cost the node per
/// message). Another silo's change is seen here within <see cref="Freshness"/>.
/// </summary>
public sealed class SpamPolicyView
{
    /// <summary>How old a policy read from the grain may get before the grain is asked again.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Bumped by every change on this silo: a read that began before a change must not be kept after it.
    private long _changes;

    private sealed record Entry(SpamPolicy Policy, long FetchedAt);

    public async ValueTask<SpamPolicy> GetAsync(IGrainFactory grains, string domain)
    {
        var now = Environment.TickCount64;
        if (_entries.TryGetValue(domain, out var e) && now - e.FetchedAt < Freshness.TotalMilliseconds) return e.Policy;
        var changes = Interlocked.Read(ref _changes);
        var policy = await grains.GetGrain<ISpamPolicyGrain>(domain).Get();
        if (Interlocked.Read(ref _changes) == changes)
        {
            if (_entries.Count > 100_000) _entries.Clear(); // many domains seen once: start over rather than grow
            _entries[domain] = new Entry(policy, now);
        }
        return policy;
    }

    /// <summary>The domain's policy was set (by its grain, on this silo): the next read asks the grain.</summary>
    public void Changed(string domain)
    {
        Interlocked.Increment(ref _changes);
        _entries.TryRemove(domain, out _);
    }
}
