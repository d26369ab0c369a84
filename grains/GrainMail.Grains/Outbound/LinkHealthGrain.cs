using GrainMail.Contracts.Outbound;

using GrainMail.Outbound;

namespace GrainMail.Grains.Outbound;

/// <summary>
/// In memory only: link health is about the last minutes, and a new activation (after a silo
/// restart) starts optimistic and learns again from the next reports.
/// </summary>
public sealed class LinkHealthGrain(OutboundOptions options, TimeProvider clock) : Grain, ILinkHealthGrain
{
    private int _failures;
    private double _successRate = 1.0;
    private DateTimeOffset? _downUntil;

    public Task Report(bool reached, double seconds)
    {
        _successRate = (1 - LinkEstimate.Alpha) * _successRate + LinkEstimate.Alpha * (reached ? 1 : 0);
        if (reached)
        {
            _failures = 0;
            _downUntil = null;
        }
        else if (++_failures >= options.LinkDownAfterFailures)
        {
            _downUntil = clock.GetUtcNow() + options.LinkCooldown;
        }
        return Task.CompletedTask;
    }

    public Task<LinkHealth> GetHealth()
    {
        var down = _downUntil is { } until && until > clock.GetUtcNow();
        return Task.FromResult(new LinkHealth(down, _failures, _successRate, _downUntil));
    }
}
