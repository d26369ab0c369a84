using GrainMail.Outbound;
using GrainMail.Outbound.Routes;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The outbound route's decisions after one attempt (<see cref="RouteDelivery.Judge"/>) and
/// what counts as a link reaching a server: who the sender hears about, who stays queued and
/// until when, the one "delayed" report, and giving up.
/// </summary>
public sealed class RouteDeliveryTests
{
    private static readonly DateTimeOffset Received = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static readonly OutboundOptions Options = new()
    {
        RetrySchedule = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10)],
        DelayNoticeAfter = TimeSpan.FromHours(4),
        GiveUpAfter = TimeSpan.FromDays(5),
    };

    private static RecipientResult Delivered(string to) => new(to, RecipientOutcome.Delivered, "250 ok", "mx.example.org");

    private static RecipientResult Failed(string to) => new(to, RecipientOutcome.Failed, "550 5.1.1 no such user", "mx.example.org");

    private static RecipientResult Deferred(string to, string? remote = "mx.example.org") => new(to, RecipientOutcome.Deferred, "451 4.3.0 later", remote);

    [Fact]
    public void All_delivered_is_done_and_the_relays_are_reported()
    {
        var v = RouteDelivery.Judge([Delivered("a@x"), Delivered("b@x")], Received, 0, false, Received.AddMinutes(1), Options);
        Assert.True(v.Done);
        Assert.True(v.AnyDelivered);
        Assert.Equal(new[] { "a@x", "b@x" }, v.Report.Select(r => r.Recipient));
        Assert.Empty(v.Deferred);
        Assert.Null(v.NextAttempt);
        Assert.False(v.DelayNotice);
    }

    [Fact]
    public void Failures_are_reported_at_once_and_deferred_recipients_wait_for_the_schedule()
    {
        var now = Received.AddMinutes(1);
        var v = RouteDelivery.Judge([Failed("a@x"), Deferred("b@x"), Delivered("c@x")], Received, 0, false, now, Options);
        Assert.False(v.Done);
        Assert.True(v.AnyDelivered);
        Assert.Equal(new[] { "a@x", "c@x" }, v.Report.Select(r => r.Recipient));
        Assert.Equal("b@x", Assert.Single(v.Deferred).Recipient);
        Assert.Equal(now + TimeSpan.FromMinutes(1), v.NextAttempt);
        Assert.False(v.DelayNotice);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 10)]
    [InlineData(7, 10)] // the last wait repeats
    public void The_next_attempt_follows_the_schedule_by_attempts_made(int attempts, int minutes)
    {
        var now = Received.AddHours(1);
        var v = RouteDelivery.Judge([Deferred("b@x")], Received, attempts, false, now, Options);
        Assert.Equal(now + TimeSpan.FromMinutes(minutes), v.NextAttempt);
    }

    [Fact]
    public void A_message_late_by_the_notice_time_gets_one_delayed_report()
    {
        var late = Received + Options.DelayNoticeAfter;
        Assert.True(RouteDelivery.Judge([Deferred("b@x")], Received, 5, delayNotified: false, late, Options).DelayNotice);
        Assert.False(RouteDelivery.Judge([Deferred("b@x")], Received, 5, delayNotified: true, late, Options).DelayNotice);
        Assert.False(RouteDelivery.Judge([Deferred("b@x")], Received, 5, delayNotified: false, late.AddSeconds(-1), Options).DelayNotice);
    }

    [Fact]
    public void Deferred_recipients_bounce_once_the_give_up_time_has_passed()
    {
        var v = RouteDelivery.Judge([Deferred("b@x"), Delivered("c@x")], Received, 30, false, Received + Options.GiveUpAfter, Options);
        Assert.True(v.Done);
        Assert.Equal(new[] { "b@x", "c@x" }, v.Report.Select(r => r.Recipient));
        Assert.Empty(v.Deferred);
        Assert.Null(v.NextAttempt);
        Assert.False(v.DelayNotice); // the failure report says it all
    }

    [Fact]
    public void A_link_reached_a_server_when_anyone_answered_even_with_a_refusal_or_a_temporary_error()
    {
        Assert.True(RouteDelivery.Reached([Deferred("b@x", remote: "mx.example.org")]));
        Assert.True(RouteDelivery.Reached([new RecipientResult("b@x", RecipientOutcome.Failed, "no MX (RFC 7505)", null)]));
        Assert.False(RouteDelivery.Reached([Deferred("b@x", remote: null), Deferred("c@x", remote: null)]));
        Assert.False(RouteDelivery.Reached([]));
    }
}
