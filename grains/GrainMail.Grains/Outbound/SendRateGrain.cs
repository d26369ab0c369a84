using GrainMail.Contracts.Outbound;

using GrainMail.Outbound;

namespace GrainMail.Grains.Outbound;

/// <summary>
/// A token bucket: full at the hourly limit, refilled continuously at limit/hour. A burst up to
/// the limit goes through; a sustained rate above it is refused.
/// </summary>
public sealed class TokenBucket(double capacity, double perSecond, DateTimeOffset start)
{
    private readonly double _capacity = capacity;
    private double _tokens = capacity;
    private DateTimeOffset _at = start;

    public bool TryTake(double n, DateTimeOffset now)
    {
        _tokens = Math.Min(_capacity, _tokens + Math.Max(0, (now - _at).TotalSeconds) * perSecond);
        _at = now;
        if (_tokens < n) return false;
        _tokens -= n;
        return true;
    }

    /// <summary>Puts back what <see cref="TryTake"/> took for something that did not happen; never above the capacity.</summary>
    public void Return(double n, DateTimeOffset now)
    {
        _tokens = Math.Min(_capacity, _tokens + Math.Max(0, (now - _at).TotalSeconds) * perSecond + Math.Max(0, n));
        _at = now;
    }
}

/// <summary>In memory: a restarted activation starts with a full bucket (at most one extra hour's budget).</summary>
public sealed class SendRateGrain(OutboundOptions options, TimeProvider clock) : Grain, ISendRateGrain
{
    private TokenBucket? _bucket;

    public Task<bool> TryAcquire(int recipients)
    {
        var key = this.GetPrimaryKeyString();
        var perHour = key.StartsWith("domain/", StringComparison.Ordinal) ? options.DomainRecipientsPerHour : options.AccountRecipientsPerHour;
        if (perHour <= 0) return Task.FromResult(true);
        _bucket ??= new TokenBucket(perHour, perHour / 3600.0, clock.GetUtcNow());
        return Task.FromResult(_bucket.TryTake(recipients, clock.GetUtcNow()));
    }

    /// <summary>
    /// Take at RCPT, give back on refusal: the check and the take are one turn of this one activation, so sessions on any
    /// silo together never pass the limit (checking at RCPT and taking only at commit would let every concurrent message
    /// through one check the budget could afford once). A bucket that is not there (a new activation) is full: nothing to give.
    /// </summary>
    public Task Release(int recipients)
    {
        _bucket?.Return(recipients, clock.GetUtcNow());
        return Task.CompletedTask;
    }
}
