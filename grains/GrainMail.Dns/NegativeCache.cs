using System.Collections.Concurrent;
using DnsClient;

namespace GrainMail.Dns;

/// <summary>
/// Negative answers (NXDOMAIN, and "no data": no error but no record of the asked type) kept for as long as
/// RFC 2308 allows: the lesser of the SOA record's TTL and its MINIMUM field, from the authority section
/// of the answer (section 5), and never longer than <see cref="Maximum"/> (section 5 suggests one to three
/// hours at most). An answer without an SOA is not cached (section 5: it SHOULD NOT be). Blocklist
/// questions for clean addresses, the HELO name's SPF and URI lists are mostly such answers.
/// </summary>
public sealed class NegativeCache(TimeSpan maximum, int capacity = 100_000)
{
    private readonly ConcurrentDictionary<(string Name, QueryType Type), (IDnsQueryResponse Response, long ExpiresAt)> _entries = new();

    public TimeSpan Maximum => maximum;

    public int Count => _entries.Count;

    /// <summary>How long a negative answer may be cached (RFC 2308 5), or null when it is not negative or carries no SOA.</summary>
    public static TimeSpan? Lifetime(bool nameError, bool serverError, int answers, IEnumerable<(uint RecordTtl, uint Minimum)> soas, TimeSpan maximum)
    {
        if (serverError || (!nameError && answers > 0) || maximum <= TimeSpan.Zero) return null;
        TimeSpan? best = null;
        foreach (var (ttl, minimum) in soas)
        {
            var t = TimeSpan.FromSeconds(Math.Min(ttl, minimum));
            best = best is null || t < best ? t : best;
        }
        if (best is null || best <= TimeSpan.Zero) return null;
        return best > maximum ? maximum : best;
    }

    public bool TryGet(string name, QueryType type, long now, out IDnsQueryResponse response)
    {
        response = null!;
        if (!_entries.TryGetValue((Key(name), type), out var e)) return false;
        if (e.ExpiresAt <= now)
        {
            _entries.TryRemove((Key(name), type), out _);
            return false;
        }
        response = e.Response;
        return true;
    }

    /// <summary>Keeps <paramref name="response"/> if it is a negative answer with an SOA; returns whether it did.</summary>
    public bool Offer(string name, QueryType type, IDnsQueryResponse response, long now)
    {
        var nameError = response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain;
        var serverError = response.HasError && !nameError;
        var soas = response.Authorities.SoaRecords().Select(s => ((uint)s.InitialTimeToLive, s.Minimum));
        if (Lifetime(nameError, serverError, response.Answers.Count, soas, maximum) is not { } lifetime) return false;
        // A flood of distinct names (every client address asks its own blocklist names) must not grow without
        // bound: past the capacity the cache starts over, which costs only repeated questions.
        if (_entries.Count >= capacity) _entries.Clear();
        _entries[(Key(name), type)] = (response, now + (long)lifetime.TotalMilliseconds);
        return true;
    }

    private static string Key(string name) => name.TrimEnd('.').ToLowerInvariant();
}
