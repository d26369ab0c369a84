namespace GrainMail.Contracts.Governance;

[GenerateSerializer, Immutable]
public sealed record SenderCount([property: Id(0)] string Account, [property: Id(1)] long Sent);

/// <param name="Country">ISO country of the client address ("" when unknown).</param>
[GenerateSerializer, Immutable]
public sealed record LoginTally(
    [property: Id(0)] string Channel,
    [property: Id(1)] string Result,
    [property: Id(2)] string Country,
    [property: Id(3)] string City,
    [property: Id(4)] long Logins);

/// <summary>One domain's day (UTC). Received: copies delivered to its mailboxes; sent: messages its accounts submitted.</summary>
[GenerateSerializer, Immutable]
public sealed record DomainDay(
    [property: Id(0)] DateOnly Day,
    [property: Id(1)] long Received,
    [property: Id(2)] long ReceivedInternal,
    [property: Id(3)] long ReceivedExternal,
    [property: Id(4)] long Sent,
    [property: Id(5)] long SentInternal,
    [property: Id(6)] long SentExternal,
    [property: Id(7)] IReadOnlyList<SenderCount> TopSenders,
    [property: Id(8)] IReadOnlyList<LoginTally> Logins);

[GenerateSerializer, Immutable]
public sealed record AccountDay(
    [property: Id(0)] string Account,
    [property: Id(1)] DateOnly Day,
    [property: Id(2)] long Received,
    [property: Id(3)] long Sent);

/// <summary>The daily reports (issue 17, Reports), read from counters kept at commit time.</summary>
public interface IReportGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<DomainDay>> Daily(string domain, DateOnly from, DateOnly to);

    [Retryable]
    Task<IReadOnlyList<AccountDay>> Accounts(string domain, DateOnly from, DateOnly to);
}
