using GrainMail.Contracts.Jmap;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Jmap;

/// <summary>Fans a state change of one account out to the gateways' push watchers; keeps nothing but the watches.</summary>
public sealed class JmapStateWatchGrain(TimeProvider clock, ILogger<JmapStateWatchGrain> logger) : Grain, IJmapStateWatchGrain
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(3);
    private readonly Dictionary<IJmapStateObserver, DateTimeOffset> _watchers = [];

    public Task Watch(IJmapStateObserver observer)
    {
        Expire();
        _watchers[observer] = clock.GetUtcNow() + Lifetime;
        return Task.CompletedTask;
    }

    public Task Unwatch(IJmapStateObserver observer)
    {
        _watchers.Remove(observer);
        return Task.CompletedTask;
    }

    public Task Changed()
    {
        Expire();
        foreach (var observer in _watchers.Keys)
        {
            try
            {
                _ = observer.StatesChanged();
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Could not notify a push watcher of {Account}", this.GetPrimaryKeyString());
            }
        }
        return Task.CompletedTask;
    }

    private void Expire()
    {
        var now = clock.GetUtcNow();
        foreach (var (o, until) in _watchers.ToList())
            if (until < now) _watchers.Remove(o);
    }
}
