namespace GrainMail.Contracts.Jmap;

/// <summary>A gateway's push watcher of one account: told that a JMAP state kept on the silo (Identity, EmailSubmission) moved.</summary>
public interface IJmapStateObserver : IGrainObserver
{
    Task StatesChanged();
}

/// <summary>
/// The watches on an account's silo-kept JMAP states (key: the account address). The identity and
/// submission grains call <see cref="Changed"/> when their counters move for a reason no request of the
/// user caused — an alias an administrator added, a delivery finished, a DSN or MDN arrived — so the
/// push connections of every gateway hear of it (RFC 8620 7.1). Watches live in memory, expire unless
/// renewed within three minutes, like the mailbox grain's.
/// </summary>
public interface IJmapStateWatchGrain : IGrainWithStringKey
{
    Task Watch(IJmapStateObserver observer);

    Task Unwatch(IJmapStateObserver observer);

    [Orleans.Concurrency.OneWay]
    Task Changed();
}
