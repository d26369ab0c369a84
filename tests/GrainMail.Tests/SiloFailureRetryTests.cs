using GrainMail.Gateways.Common;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace GrainMail.Tests;

/// <summary>
/// Which failures of a retryable grain call mean "the silo is gone, ask again" (the failover drill's
/// slow IMAP logins), and that the retry loop acts on them and on nothing else.
/// </summary>
public sealed class SiloFailureRetryTests
{
    [Fact]
    public void A_failed_connection_to_the_silo_is_a_silo_failure()
    {
        // What a client gets, unwrapped, when its gateway silo was killed and the message could not be sent.
        Assert.True(SiloFailureRetry.IsSiloFailure(new ConnectionFailedException("Unable to connect to endpoint S127.0.0.1:11111:0")));
        // ... and wrapped in another Orleans exception.
        Assert.True(SiloFailureRetry.IsSiloFailure(new OrleansException("send failed", new ConnectionFailedException("refused"))));
    }

    [Fact]
    public void The_silo_failures_counted_before_still_count()
    {
        Assert.True(SiloFailureRetry.IsSiloFailure(new SiloUnavailableException("declared dead")));
        // (OrleansMessageRejectionException's constructors are internal; SiloUnavailableException is one.)
        Assert.True(SiloFailureRetry.IsSiloFailure(new TimeoutException("Response did not arrive on time")));
        Assert.True(SiloFailureRetry.IsSiloFailure(new OrleansException("outer", new SiloUnavailableException("inner"))));
    }

    [Fact]
    public void A_failure_of_the_call_itself_or_an_overloaded_gateway_is_not()
    {
        Assert.False(SiloFailureRetry.IsSiloFailure(new InvalidOperationException("the grain refused")));
        Assert.False(SiloFailureRetry.IsSiloFailure(new ArgumentException("bad argument")));
        Assert.False(SiloFailureRetry.IsSiloFailure(new OrleansException("no inner exception")));
        Assert.False(SiloFailureRetry.IsSiloFailure(new OrleansException("outer", new InvalidOperationException("inner"))));
        // Alive and shedding load: retrying into it would add load.
        Assert.False(SiloFailureRetry.IsSiloFailure(new GatewayTooBusyException()));
    }

    [Fact]
    public async Task A_retryable_call_whose_connection_failed_is_tried_again_and_succeeds()
    {
        var attempts = 0;
        await SiloFailureRetry.RunAsync(() =>
        {
            // The first try finds the gateway silo gone; the second reaches a live one.
            if (++attempts == 1) throw new ConnectionFailedException("Unable to connect to endpoint S127.0.0.1:11111:0");
            return Task.CompletedTask;
        }, "Authenticate", NullLogger.Instance);
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task A_call_that_failed_for_itself_is_not_tried_again()
    {
        var attempts = 0;
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => SiloFailureRetry.RunAsync(() =>
        {
            attempts++;
            throw new InvalidOperationException("the grain refused");
        }, "Authenticate", NullLogger.Instance));
        Assert.Equal("the grain refused", e.Message);
        Assert.Equal(1, attempts);
    }
}
