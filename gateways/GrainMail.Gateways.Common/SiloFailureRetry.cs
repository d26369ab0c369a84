using System.Reflection;
using GrainMail.Contracts;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace GrainMail.Gateways.Common;

/// <summary>
/// Retries <see cref="RetryableAttribute">retryable</see> grain calls that failed because the
/// silo holding the activation died or could not be reached. Until membership declares the
/// silo dead (a few seconds, see the membership settings), calls to its grains fail fast; once
/// it is declared dead the next call activates the grain elsewhere. Calls that are not
/// retryable fail at once and the gateway answers with a temporary error (SMTP 451, IMAP NO).
/// </summary>
public sealed class SiloFailureRetry(ILogger<SiloFailureRetry> logger) : IOutgoingGrainCallFilter
{
    /// <summary>How long a retryable call keeps trying: longer than death detection plus a database failover.</summary>
    public static TimeSpan Budget { get; set; } = TimeSpan.FromSeconds(45);

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
        var deadline = DateTime.UtcNow + Budget;
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await context.Invoke();
                return;
            }
            catch (Exception e) when (IsSiloFailure(e) && DateTime.UtcNow + delay < deadline)
            {
                if (attempt == 1) logger.LogInformation("{Method} failed ({Error}); retrying while the cluster recovers", context.MethodName, e.GetType().Name);
                await Task.Delay(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>Failures of the transport or of the silo, not of the call itself.</summary>
    public static bool IsSiloFailure(Exception e) => e is SiloUnavailableException or OrleansMessageRejectionException
        or TimeoutException or ClientNotAvailableException
        || (e is OrleansException && e.InnerException is { } inner && IsSiloFailure(inner));
}
