namespace GrainMail.Contracts.Outbound;

/// <summary>
/// Outbound sending budget of one sender account (key <c>account/&lt;address&gt;</c>) or one
/// sender domain (key <c>domain/&lt;domain&gt;</c>): recipients per hour, so that a hijacked
/// account cannot burn the cluster's IP reputation.
/// </summary>
public interface ISendRateGrain : IGrainWithStringKey
{
    /// <summary>Takes <paramref name="recipients"/> from the budget; false (and nothing taken) when it does not have them.</summary>
    /// <remarks>
    /// Retryable although it is not idempotent: after a silo failure a retry may take the
    /// recipients twice, which errs on the strict side; refusing the RCPT would be worse.
    /// </remarks>
    [Retryable]
    Task<bool> TryAcquire(int recipients);

    /// <summary>
    /// Gives back <paramref name="recipients"/> that <see cref="TryAcquire"/> took for a message that was then refused or
    /// abandoned (a later check at DATA or EmailSubmission/set, the intake's refusal, RSET), so that what counts is what was
    /// sent. The bucket never holds more than its hourly limit.
    /// </summary>
    /// <remarks>
    /// Not retryable: a retry after a silo failure might give back twice, which would err on the lenient side. A lost
    /// give-back leaves the recipients spent, as before there was one.
    /// </remarks>
    Task Release(int recipients);
}
