using System.Reflection;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Intake;
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
    public void A_shortened_call_timeout_is_only_on_calls_that_may_be_asked_again()
    {
        // A per-method timeout below the cluster's 8 s turns a slow answer into a second try: only for retryable
        // calls, and for two that are safe without the attribute (the settle question, asked again by the gateway
        // itself; the open-session report, whose failure the login survives).
        var shortened = typeof(IMessageIntakeGrain).Assembly.GetTypes().Where(t => t.IsInterface)
            .SelectMany(t => t.GetMethods().Select(m => (Type: t, Method: m, Timeout: m.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>())))
            .Where(x => x.Timeout is not null && x.Timeout.Timeout < TimeSpan.FromSeconds(8)).ToList();
        Assert.Contains(shortened, x => x.Type == typeof(IMessageIntakeGrain) && x.Method.Name == nameof(IMessageIntakeGrain.Settle));
        Assert.Contains(shortened, x => x.Type == typeof(GrainMail.Contracts.Mailboxes.IMailboxGrain) && x.Method.Name == nameof(GrainMail.Contracts.Mailboxes.IMailboxGrain.Exists));
        foreach (var (type, method, timeout) in shortened)
        {
            Assert.True(timeout!.Timeout < TimeSpan.FromSeconds(8), $"{type.Name}.{method.Name}");
            Assert.True(method.GetCustomAttribute<RetryableAttribute>() is not null
                || (type == typeof(IMessageIntakeGrain) && method.Name == nameof(IMessageIntakeGrain.Settle))
                || (type == typeof(ISessionBoardGrain) && method.Name == nameof(ISessionBoardGrain.Report)),
                $"{type.Name}.{method.Name} has a short timeout but is not safe to ask again");
        }
        // The password check and submissions keep the cluster's timeout (see CallTimeouts).
        Assert.Null(typeof(IAccountGrain).GetMethod(nameof(IAccountGrain.Authenticate))!.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>());
        Assert.Null(typeof(IMessageIntakeGrain).GetMethod(nameof(IMessageIntakeGrain.Submit))!.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>());
    }

    [Fact]
    public async Task A_transient_database_failure_is_tried_again_and_a_permanent_one_is_not()
    {
        // A failover: connections refused, the server shutting down. The same budget outlasts it.
        Assert.True(SiloFailureRetry.IsWorthRetrying(new StorageUnavailableException("connection refused", transient: true)));
        // A constraint or a bug: asking again gives the same answer.
        Assert.False(SiloFailureRetry.IsWorthRetrying(new StorageUnavailableException("unique violation", transient: false)));
        Assert.True(SiloFailureRetry.IsWorthRetrying(new SiloUnavailableException("declared dead")));

        var attempts = 0;
        await SiloFailureRetry.RunAsync(() =>
        {
            if (++attempts < 3) throw new StorageUnavailableException("57P01 terminating connection due to administrator command", transient: true);
            return Task.CompletedTask;
        }, "GetPolicy", NullLogger.Instance);
        Assert.Equal(3, attempts);

        attempts = 0;
        await Assert.ThrowsAsync<StorageUnavailableException>(() => SiloFailureRetry.RunAsync(() =>
        {
            attempts++;
            throw new StorageUnavailableException("23505 duplicate key", transient: false);
        }, "GetPolicy", NullLogger.Instance));
        Assert.Equal(1, attempts);
    }

    [Fact]
    public void The_reads_an_smtp_session_makes_at_mail_and_rcpt_give_up_after_3_s_and_are_asked_again()
    {
        // What MAIL FROM (the sender's ownership) and RCPT TO (recipient policy, border policy, list post policy) ask.
        // A call in flight to a silo that is killed is never answered: with the cluster's 8 s the client waited 8 s.
        var reads = new[]
        {
            typeof(GrainMail.Contracts.Domains.IDomainGrain).GetMethod(nameof(GrainMail.Contracts.Domains.IDomainGrain.Resolve))!,
            typeof(GrainMail.Contracts.Domains.IDomainGrain).GetMethod(nameof(GrainMail.Contracts.Domains.IDomainGrain.ResolveWithin))!,
            typeof(GrainMail.Contracts.Domains.IDomainGrain).GetMethod(nameof(GrainMail.Contracts.Domains.IDomainGrain.GetAccountPolicy))!,
            typeof(GrainMail.Contracts.Lists.IMailingListGrain).GetMethod(nameof(GrainMail.Contracts.Lists.IMailingListGrain.MayPost))!,
        };
        foreach (var method in reads)
        {
            Assert.True(method.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>()?.Timeout <= TimeSpan.FromSeconds(3), method.Name);
            Assert.NotNull(method.GetCustomAttribute<RetryableAttribute>());
        }
        // The send budget counts (a retry may count twice, on the strict side): it keeps the cluster's timeout.
        Assert.Null(typeof(GrainMail.Contracts.Outbound.ISendRateGrain).GetMethod(nameof(GrainMail.Contracts.Outbound.ISendRateGrain.TryAcquire))!
            .GetCustomAttribute<Orleans.ResponseTimeoutAttribute>());
    }

    [Fact]
    public void A_large_messages_commit_may_take_the_commit_window_and_no_other_call_is_given_longer_than_8_s()
    {
        // Scanning and storing a message over 1 MiB grows with its size; cut short at 8 s it was fenced and answered 451
        // at every try. The commit window is as long as it may usefully wait: a submission not begun by then stores nothing.
        var commit = typeof(IMessageUploadGrain).GetMethod(nameof(IMessageUploadGrain.Commit))!.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>();
        Assert.NotNull(commit);
        Assert.Equal(new GrainMail.Gateways.Common.Intake.MessageIntake(null!).CommitWindow, commit.Timeout);
        var longer = typeof(IMessageIntakeGrain).Assembly.GetTypes().Where(t => t.IsInterface)
            .SelectMany(t => t.GetMethods().Where(m => m.GetCustomAttribute<Orleans.ResponseTimeoutAttribute>()?.Timeout >= TimeSpan.FromSeconds(8))
                .Select(m => $"{t.Name}.{m.Name}"));
        Assert.Equal([$"{nameof(IMessageUploadGrain)}.{nameof(IMessageUploadGrain.Commit)}"], longer);
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
