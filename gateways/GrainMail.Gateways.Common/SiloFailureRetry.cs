using System.Reflection;
using GrainMail.Contracts;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace GrainMail.Gateways.Common;

/// <summary>
/// Retries <see cref="RetryableAttribute">retryable</see> grain calls that failed because the
/// silo holding the activation died or could not be reached, or because the database was failing
/// over. Until membership declares the silo dead (a few seconds, see the membership settings),
/// calls to its grains fail fast; once it is declared dead the next call activates the grain
/// elsewhere. Calls that are not retryable fail at once and the gateway answers with a temporary
/// error (SMTP 451, IMAP NO).
/// </summary>
public sealed class SiloFailureRetry(ILogger<SiloFailureRetry> logger) : IOutgoingGrainCallFilter
{
    /// <summary>How long a retryable call keeps trying: longer than death detection plus a database failover.</summary>
    public static TimeSpan Budget { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>The longest pause between two tries. A try that fails for a silo still undeclared costs one
    /// rejected message; the declaration can come at any moment, and a longer pause only adds to the wait
    /// after the cluster has recovered (with 2 s a call could sit idle for up to 2 s of a working cluster).</summary>
    internal static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    // Every grain call passes here: the attribute is looked up once per method, not per call.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<MethodInfo, bool> Retryable = new();

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod is not { } method
            || !Retryable.GetOrAdd(method, m => m.GetCustomAttribute<RetryableAttribute>() is not null))
        {
            await context.Invoke();
            return;
        }
        await RunAsync(context.Invoke, context.MethodName, logger);
    }

    /// <summary>Runs <paramref name="attempt"/> until it succeeds, fails for a reason other than the silo, or
    /// <see cref="Budget"/> is spent; the last failure is thrown.</summary>
    internal static async Task RunAsync(Func<Task> attempt, string method, ILogger logger)
    {
        var deadline = DateTime.UtcNow + Budget;
        var delay = TimeSpan.FromMilliseconds(100);
        for (var n = 1; ; n++)
        {
            try
            {
                await attempt();
                return;
            }
            catch (Exception e) when (IsWorthRetrying(e) && DateTime.UtcNow + delay < deadline)
            {
                if (n == 1) logger.LogInformation("{Method} failed ({Error}); retrying while the cluster recovers", method, e.GetType().Name);
                await Task.Delay(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, MaxDelay.TotalMilliseconds));
            }
        }
    }

    /// <summary>
    /// What a retryable call is asked again for: a failure of the silo (<see cref="IsSiloFailure"/>), or a database
    /// failure Npgsql judged transient (a failover: connections refused, the server shutting down or not yet
    /// accepting connections), which the same <see cref="Budget"/> outlasts. Only retryable calls get here, so a
    /// second run changes nothing more whether or not the first one reached the database. A permanent database
    /// failure (a constraint, a bug) is not asked again.
    /// </summary>
    public static bool IsWorthRetrying(Exception e) => IsSiloFailure(e) || e is StorageUnavailableException { Transient: true };

    /// <summary>
    /// Failures of the transport or of the silo, not of the call itself:
    /// <list type="bullet">
    /// <item><see cref="OrleansMessageRejectionException"/>, and <see cref="SiloUnavailableException"/> (one of them in
    /// Orleans 10): the message was refused, or the target silo was declared dead while the call waited;</item>
    /// <item><see cref="ConnectionFailedException"/>: no connection could be made to the silo, e.g. the client's
    /// gateway silo was killed (refused, reset). Orleans hands it to the caller as it is, not wrapped, when a client's
    /// message to a gateway cannot be sent;</item>
    /// <item><see cref="TimeoutException"/>: no answer within the call's timeout (a silo that died with the call);</item>
    /// <item><see cref="ClientNotAvailableException"/>: the client a silo called back is gone.</item>
    /// </list>
    /// <see cref="GatewayTooBusyException"/> is left out on purpose: the gateway is alive and shedding load, and
    /// retrying into it adds load. Any Orleans exception whose inner exception is one of these counts too.
    /// </summary>
    public static bool IsSiloFailure(Exception e) => e is SiloUnavailableException or OrleansMessageRejectionException
        or ConnectionFailedException or TimeoutException or ClientNotAvailableException
        || (e is OrleansException && e.InnerException is { } inner && IsSiloFailure(inner));
}
