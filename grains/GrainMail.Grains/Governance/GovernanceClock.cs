namespace GrainMail.Grains.Governance;

/// <summary>
/// The time governance decides by — hold expiry, recall windows, retention ages: the system clock,
/// which a test can move forward (<see cref="Advance"/>) to see a 30-day retention or a hold's expiry
/// act, without moving the clock Orleans itself runs by (membership, reminders, timers).
/// </summary>
public sealed class GovernanceClock : TimeProvider
{
    private long _skewTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _skewTicks));

    /// <summary>Tests only: from now on every governance decision sees the time <paramref name="by"/> later.</summary>
    public void Advance(TimeSpan by) => Interlocked.Add(ref _skewTicks, by.Ticks);
}
