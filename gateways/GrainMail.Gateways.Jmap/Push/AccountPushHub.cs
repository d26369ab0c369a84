using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Mail;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>
/// The pushed types and their states. The states are what the /get methods answer: MailState's
/// token (Mail/MailState.cs) for Mailbox, Email and Thread, called here rather than re-derived, so
/// that a change of its encoding keeps push and /get in agreement.
/// </summary>
public static class PushStates
{
    public static readonly IReadOnlyList<string> Types = ["Mailbox", "Email", "Thread", "EmailDelivery", "Identity", "EmailSubmission"];

    /// <param name="identityState">The Identity state (IJmapIdentityGrain's counter), as Identity/get answers it.</param>
    /// <param name="submissionState">The EmailSubmission state (IEmailSubmissionGrain's counter).</param>
    public static AccountStates Of(string accountId, IReadOnlyList<FolderInfo> folders, long identityState = 0, long submissionState = 0)
    {
        var state = MailState.Of(folders);
        var byType = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["Mailbox"] = state,
            ["Email"] = state,
            ["Thread"] = state,
            ["EmailDelivery"] = DeliveryState(folders),
            ["Identity"] = identityState.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["EmailSubmission"] = submissionState.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        return new AccountStates(accountId, byType);
    }

    /// <summary>
    /// RFC 8621 1.5: EmailDelivery changes when new mail arrives, not when a draft is saved or a sent
    /// copy filed — so a client can tell "new mail" from its own writes. Here: the UIDs handed out in
    /// every folder but Drafts and Sent. It also moves when the user moves or appends into another
    /// folder; the RFC allows a change with nothing new (the client then finds nothing).
    /// </summary>
    public static string DeliveryState(IReadOnlyList<FolderInfo> folders) =>
        folders.Where(f => f.SpecialUse is not (SpecialUse.Drafts or SpecialUse.Sent))
            .Sum(f => Math.Max(0, f.UidNext - 1)).ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// One watcher per account per gateway process: every push connection of an account (EventSource or
/// WebSocket) subscribes here, and the account has one account-wide watch on its mailbox grain
/// (<see cref="IMailboxGrain.WatchTree"/>, the same whole-tree watch IMAP NOTIFY uses). A notice
/// triggers one ListFolders; notices during it are coalesced into one more. Subscribers keep only the
/// newest states, so a slow client costs one pending object, never a queue.
/// </summary>
public sealed class AccountPushHub(IGrainFactory grains, ILogger<AccountPushHub> log) : IDisposable
{
    /// <summary>How often a watch is renewed (the grain forgets it after 3 minutes) and the state re-read (a lost notice is caught up).</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(60);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, AccountWatch> _watches = new(StringComparer.Ordinal);

    /// <summary>Accounts watched now (metrics, tests).</summary>
    public int WatchedAccounts
    {
        get
        {
            lock (_gate) return _watches.Count;
        }
    }

    /// <summary>Subscribes to the account's changes; the answer's <see cref="PushSubscription.Current"/> is the state now (null if unknown).</summary>
    /// <param name="signal">A signal shared by the subscriptions of one connection (<see cref="PushFeed"/>); null: the subscription's own.</param>
    public async Task<PushSubscription> SubscribeAsync(string address, string accountId, SemaphoreSlim? signal = null)
    {
        AccountWatch watch;
        PushSubscription subscription;
        lock (_gate)
        {
            if (!_watches.TryGetValue(address, out watch!))
                _watches[address] = watch = new AccountWatch(this, address, accountId);
            subscription = watch.Add(signal);
        }
        await watch.Started;
        subscription.Seed(watch.Latest);
        return subscription;
    }

    /// <summary>
    /// Re-reads an account's states now, when this gateway changed something the mailbox grain's watch
    /// does not report (an Identity, an EmailSubmission). Other gateways see it at their next renewal
    /// (<see cref="RenewEvery"/>) or mailbox change.
    /// </summary>
    public void Poke(string address)
    {
        AccountWatch? watch;
        lock (_gate) _watches.TryGetValue(address, out watch);
        watch?.Poke();
    }

    private void Unsubscribe(AccountWatch watch, PushSubscription subscription)
    {
        lock (_gate)
        {
            if (!watch.Remove(subscription)) return;
            _watches.Remove(watch.Address);
        }
        watch.Stop();
    }

    public void Dispose()
    {
        List<AccountWatch> all;
        lock (_gate)
        {
            all = [.. _watches.Values];
            _watches.Clear();
        }
        foreach (var w in all) w.Stop();
    }

    /// <summary>
    /// The observer the mailbox grain notifies, and the account's <see cref="GrainMail.Contracts.Jmap.IJmapStateWatchGrain"/>
    /// (Identity and EmailSubmission states moved on the silo: an alias added, a delivery done, a DSN read); runs on
    /// Orleans' threads, so it only marks and wakes.
    /// </summary>
    private sealed class AccountWatch : IMailboxTreeObserver, GrainMail.Contracts.Jmap.IJmapStateObserver
    {
        private readonly AccountPushHub _hub;
        private readonly IMailboxGrain _grain;
        private readonly IMailboxTreeObserver _reference;
        private readonly GrainMail.Contracts.Jmap.IJmapStateWatchGrain _statesGrain;
        private readonly GrainMail.Contracts.Jmap.IJmapStateObserver _statesReference;
        private readonly List<PushSubscription> _subscribers = [];
        private readonly Timer _renew;
        private int _dirty;
        private int _running;
        private volatile bool _stopped;
        private AccountStates? _latest;

        public AccountWatch(AccountPushHub hub, string address, string accountId)
        {
            _hub = hub;
            Address = address;
            AccountId = accountId;
            _grain = hub.Grains.GetGrain<IMailboxGrain>(address);
            _reference = hub.Grains.CreateObjectReference<IMailboxTreeObserver>(this);
            _statesGrain = hub.Grains.GetGrain<GrainMail.Contracts.Jmap.IJmapStateWatchGrain>(address);
            _statesReference = hub.Grains.CreateObjectReference<GrainMail.Contracts.Jmap.IJmapStateObserver>(this);
            Started = StartAsync();
            _renew = new Timer(_ => _ = RenewAsync(), null, RenewEvery, RenewEvery);
        }

        public string Address { get; }
        public string AccountId { get; }
        public Task Started { get; }
        public AccountStates? Latest => Volatile.Read(ref _latest);

        public PushSubscription Add(SemaphoreSlim? signal)
        {
            var s = new PushSubscription(sub => _hub.Unsubscribe(this, sub), signal);
            lock (_subscribers) _subscribers.Add(s);
            return s;
        }

        /// <summary>Removes a subscriber; true when it was the last (called under the hub's lock).</summary>
        public bool Remove(PushSubscription s)
        {
            lock (_subscribers)
            {
                _subscribers.Remove(s);
                return _subscribers.Count == 0;
            }
        }

        private async Task StartAsync()
        {
            try
            {
                await _grain.WatchTree(_reference);
                await _statesGrain.Watch(_statesReference);
                await RefreshAsync();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Subscribers start without a state; the renewal timer tries again.
                _hub.Log.LogWarning(e, "Watching the mailbox of {Address} for push failed", Address);
            }
        }

        private async Task RenewAsync()
        {
            if (_stopped) return;
            try
            {
                await _grain.WatchTree(_reference);
                await _statesGrain.Watch(_statesReference);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _hub.Log.LogWarning(e, "Renewing the push watch of {Address} failed", Address);
            }
            Wake();
        }

        public Task TreeChanged(MailboxTreeNotice notice)
        {
            // A new activation of the grain knows no watches: register again, then re-read.
            if (notice.Rewatch) _ = RenewAsync();
            else Wake();
            return Task.CompletedTask;
        }

        public void Poke() => Wake();

        public Task StatesChanged()
        {
            Wake();
            return Task.CompletedTask;
        }

        /// <summary>Coalesces notices: at most one refresh runs, and one more follows if notices came during it.</summary>
        private void Wake()
        {
            if (_stopped) return;
            Interlocked.Exchange(ref _dirty, 1);
            if (Interlocked.CompareExchange(ref _running, 1, 0) == 0) _ = Task.Run(DrainAsync);
        }

        private async Task DrainAsync()
        {
            while (true)
            {
                while (Interlocked.Exchange(ref _dirty, 0) == 1 && !_stopped)
                {
                    try
                    {
                        await RefreshAsync();
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        _hub.Log.LogWarning(e, "Reading the push state of {Address} failed", Address);
                    }
                }
                Interlocked.Exchange(ref _running, 0);
                // A notice between the last check and the release above: run again unless another runner took it.
                if (Volatile.Read(ref _dirty) == 0 || Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
            }
        }

        private async Task RefreshAsync()
        {
            var identities = _hub.Grains.GetGrain<GrainMail.Contracts.Jmap.IJmapIdentityGrain>(Address).State();
            // Poll, not State: a change of the mailbox may be a DSN or MDN arriving, which the grain then lists (issue 18).
            var submissions = _hub.Grains.GetGrain<GrainMail.Contracts.Jmap.IEmailSubmissionGrain>(Address).Poll();
            var folders = await _grain.ListFolders();
            var now = PushStates.Of(AccountId, folders, await identities, await submissions);
            if (Latest is { } before && before.Digest == now.Digest) return;
            Volatile.Write(ref _latest, now);
            PushSubscription[] targets;
            lock (_subscribers) targets = [.. _subscribers];
            foreach (var s in targets) s.Offer(now);
        }

        public void Stop()
        {
            _stopped = true;
            _renew.Dispose();
            var grains = _hub.Grains;
            _ = Task.Run(async () =>
            {
                try
                {
                    await _grain.UnwatchTree(_reference);
                    await _statesGrain.Unwatch(_statesReference);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // The grain forgets an unrenewed watch after three minutes anyway.
                    _hub.Log.LogDebug(e, "Unwatching {Address} failed", Address);
                }
                try
                {
                    grains.DeleteObjectReference<IMailboxTreeObserver>(_reference);
                    grains.DeleteObjectReference<GrainMail.Contracts.Jmap.IJmapStateObserver>(_statesReference);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    // Already gone.
                }
            });
        }
    }

    private IGrainFactory Grains => grains;

    private ILogger Log => log;
}

/// <summary>
/// One push connection's subscription: the newest states offered (older ones are overwritten, which
/// is the backpressure: a client that reads slowly gets fewer, newer StateChanges) and a signal.
/// </summary>
public sealed class PushSubscription(Action<PushSubscription> unsubscribe, SemaphoreSlim? signal = null) : IDisposable
{
    private readonly SemaphoreSlim _signal = signal ?? new(0, 1);
    private AccountStates? _latest;
    private int _disposed;

    /// <summary>The newest states known (null: none read yet).</summary>
    public AccountStates? Current => Volatile.Read(ref _latest);

    internal void Seed(AccountStates? states)
    {
        if (states is not null) Interlocked.CompareExchange(ref _latest, states, null);
    }

    internal void Offer(AccountStates states)
    {
        Volatile.Write(ref _latest, states);
        try
        {
            if (_signal.CurrentCount == 0) _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the reader will see the newest states.
        }
    }

    /// <summary>Waits for newer states up to <paramref name="timeout"/>; true when some were offered.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) unsubscribe(this);
    }
}
