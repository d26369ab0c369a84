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
}
