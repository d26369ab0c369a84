using Orleans.Concurrency;

namespace GrainMail.Contracts.Operations;

/// <summary>One dead-lettered delivery: what it was for, why it stopped, and when.</summary>
/// <param name="Stream">"inbound" (Key is the mailbox) or "outbound" (Key is the destination domain).</param>
[GenerateSerializer, Immutable]
public sealed record DeadLetterInfo(
    [property: Id(0)] long Id,
    [property: Id(1)] string Stream,
    [property: Id(2)] string Key,
    [property: Id(3)] string? Sender,
    [property: Id(4)] long Size,
    [property: Id(5)] string Reason,
    [property: Id(6)] int Attempts,
    [property: Id(7)] DateTimeOffset EnqueuedAt,
    [property: Id(8)] DateTimeOffset DeadAt);

/// <summary>
/// The operator's view of dead letters, served by any silo (the gateways hold no database
/// credentials): list them, and send one back into its queue once its cause is mended.
/// </summary>
public interface IDeadLetterGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<DeadLetterInfo>> List(int limit);

    /// <summary>False when there is no such dead letter (already redelivered, or never was).</summary>
    Task<bool> Redeliver(long id);
}
