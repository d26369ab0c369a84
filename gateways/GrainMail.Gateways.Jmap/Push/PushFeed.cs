using System.Security.Cryptography;
using System.Text;
using GrainMail.Gateways.Jmap.Methods;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>The newest states of every account a push connection covers, keyed by account id.</summary>
public sealed record FeedStates(IReadOnlyDictionary<string, AccountStates> Accounts)
{
    /// <summary>
    /// The event id / pushState (RFC 8620 7.3, RFC 8887 4.3.5): the personal account's digest alone when
    /// it is the only account (as before delegated accounts were pushed), else a digest of all of them.
    /// </summary>
    public string Digest { get; } = Accounts.Count == 1 ? Accounts.Values.First().Digest
        : Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n',
            Accounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value.Digest)))).AsSpan(0, 12));
}

/// <summary>
/// One push connection's subscriptions: the user's own account and each account delegated to him
/// (isPersonal false, RFC 8620 2), all waking one signal, so a StateChange can name several accounts
/// (RFC 8620 7.1). The account list is re-read by the connection (<see cref="SetAccountsAsync"/>), so
/// a delegation removed stops the owner's changes from being pushed, and a new one starts them.
/// </summary>
public sealed class PushFeed(AccountPushHub hub) : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly Lock _gate = new();
    private Dictionary<string, PushSubscription> _subscriptions = new(StringComparer.Ordinal);

    /// <summary>The accounts covered now.</summary>
    public IReadOnlyList<JmapAccount> Accounts { get; private set; } = [];

    public static async Task<PushFeed> OpenAsync(AccountPushHub hub, IReadOnlyList<JmapAccount> accounts)
    {
        var feed = new PushFeed(hub);
        await feed.SetAccountsAsync(accounts);
        return feed;
    }

    /// <summary>Subscribes to accounts new in <paramref name="accounts"/> and drops those no longer in it.</summary>
    public async Task SetAccountsAsync(IReadOnlyList<JmapAccount> accounts)
    {
        Dictionary<string, PushSubscription> before;
        lock (_gate) before = _subscriptions;
        var next = new Dictionary<string, PushSubscription>(StringComparer.Ordinal);
        foreach (var a in accounts)
            next[a.Id] = before.TryGetValue(a.Id, out var kept) ? kept : await hub.SubscribeAsync(a.Address, a.Id, _signal);
        lock (_gate)
        {
            _subscriptions = next;
            Accounts = accounts;
        }
        foreach (var (id, s) in before)
            if (!next.ContainsKey(id)) s.Dispose();
        Wake();
    }

    /// <summary>The newest states of every covered account whose states are known; null when none is.</summary>
    public FeedStates? Current
    {
        get
        {
            Dictionary<string, PushSubscription> subs;
            lock (_gate) subs = _subscriptions;
            var known = new Dictionary<string, AccountStates>(StringComparer.Ordinal);
            foreach (var (id, s) in subs)
                if (s.Current is { } c) known[id] = c;
            return known.Count == 0 ? null : new FeedStates(known);
        }
    }

    /// <summary>Waits for newer states of any account up to <paramref name="timeout"/>; true when some came.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

    private void Wake()
    {
        try
        {
            if (_signal.CurrentCount == 0) _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    /// <summary>
    /// What to push: per account, the types the client asked for (<paramref name="types"/>) whose state differs from
    /// <paramref name="sent"/> (an account not in it: all of them). Empty when nothing changed.
    /// </summary>
    public static Dictionary<string, Dictionary<string, string>> Changed(FeedStates now, FeedStates? sent, IReadOnlySet<string>? types)
    {
        var changed = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (id, states) in now.Accounts)
        {
            var c = StateChanges.Changed(states, sent?.Accounts.GetValueOrDefault(id), types);
            if (c.Count > 0) changed[id] = c;
        }
        return changed;
    }

    public void Dispose()
    {
        Dictionary<string, PushSubscription> subs;
        lock (_gate)
        {
            subs = _subscriptions;
            _subscriptions = new(StringComparer.Ordinal);
        }
        foreach (var s in subs.Values) s.Dispose();
    }
}
