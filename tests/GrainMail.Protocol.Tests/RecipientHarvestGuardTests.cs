using System.Net;
using GrainMail.Gateways.Smtp;
using GrainMail.Gateways.Smtp.Session;

namespace GrainMail.Protocol.Tests;

/// <summary>The tarpit's delays and the per-session and per-address limits, on a clock the test moves.</summary>
public sealed class RecipientHarvestGuardTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly SmtpOptions Options = new()
    {
        FreeUnknownRecipients = 3,
        TarpitDelay = TimeSpan.FromSeconds(1),
        MaxTarpitDelay = TimeSpan.FromSeconds(10),
        MaxUnknownRecipientsPerSession = 20,
        MaxUnknownRecipientsPerIp = 30,
        UnknownRecipientWindow = TimeSpan.FromHours(1),
    };

    [Fact]
    public void Delays_start_after_the_free_ones_double_and_are_capped()
    {
        var guard = new RecipientHarvestGuard(Options, new ManualClock());
        var delays = Enumerable.Range(1, 10).Select(n => guard.DelayFor(n).TotalSeconds).ToArray();
        Assert.Equal([0, 0, 0, 1, 2, 4, 8, 10, 10, 10], delays);
        Assert.Equal(TimeSpan.FromSeconds(10), guard.DelayFor(10_000));
    }

    [Fact]
    public void A_session_past_its_limit_is_closed()
    {
        var guard = new RecipientHarvestGuard(Options, new ManualClock());
        var ip = IPAddress.Parse("192.0.2.7");
        for (var n = 1; n <= 20; n++) Assert.False(guard.NoteUnknown(ip, n).Close);
        Assert.True(guard.NoteUnknown(ip, 21).Close);
    }

    [Fact]
    public void An_address_is_counted_across_sessions_within_the_window()
    {
        var clock = new ManualClock();
        var guard = new RecipientHarvestGuard(Options, clock);
        var ip = IPAddress.Parse("192.0.2.8");
        var other = IPAddress.Parse("192.0.2.9");
        // Three sessions of ten: the 31st unknown recipient from this address closes its session.
        for (var session = 0; session < 3; session++)
        {
            for (var n = 1; n <= 10; n++) Assert.False(guard.NoteUnknown(ip, n).Close);
        }
        Assert.True(guard.NoteUnknown(ip, 1).Close);
        Assert.False(guard.NoteUnknown(other, 1).Close);
        // An hour later the address starts afresh.
        clock.Now += TimeSpan.FromHours(1);
        Assert.False(guard.NoteUnknown(ip, 1).Close);
        Assert.Equal(TimeSpan.Zero, guard.NoteUnknown(ip, 1).Delay);
        Assert.Equal(TimeSpan.FromSeconds(1), guard.NoteUnknown(ip, 4).Delay);
    }
}
