namespace GrainMail.Contracts.Operations;

[GenerateSerializer, Immutable]
public sealed record DomainListing(
    [property: Id(0)] string Name,
    [property: Id(1)] string HomeRegion,
    [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>One delivery attempt of one outgoing message to one recipient.</summary>
[GenerateSerializer, Immutable]
public sealed record SendAttempt(
    [property: Id(0)] Guid MessageId,
    [property: Id(1)] string Recipient,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string Link,
    [property: Id(4)] string? Remote,
    [property: Id(5)] string Outcome,
    [property: Id(6)] string Reply);

/// <summary>
/// The admin API's reads that span many grains (the directory of domains, the outbound queues,
/// an account's send log), answered on a silo from PostgreSQL: the HTTP gateway has no database.
/// </summary>
public interface IAdminViewGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<DomainListing>> ListDomains();

    /// <summary>Destinations with something queued to leave.</summary>
    [Retryable]
    Task<IReadOnlyList<string>> OutboundDestinations();

    [Retryable]
    Task<IReadOnlyList<SendAttempt>> SentLog(string sender, int limit);
}
