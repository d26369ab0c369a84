namespace GrainMail.Contracts.Governance;

/// <summary>A domain-wide search (issue 17, 4.2.18); every filter optional.</summary>
/// <param name="Sender">Envelope sender or From address.</param>
/// <param name="Subject">A part of the subject.</param>
[GenerateSerializer, Immutable]
public sealed record SweepQuery(
    [property: Id(0)] string? Sender,
    [property: Id(1)] string? Subject,
    [property: Id(2)] DateTimeOffset? From,
    [property: Id(3)] DateTimeOffset? To,
    [property: Id(4)] string? MessageId,
    [property: Id(5)] int Limit);

[GenerateSerializer, Immutable]
public sealed record SweepCopy(
    [property: Id(0)] string Mailbox,
    [property: Id(1)] string Folder,
    [property: Id(2)] long Uid);

/// <param name="Id">The message within the domain (hex SHA-256 of its stored bytes): what deletion names.</param>
[GenerateSerializer, Immutable]
public sealed record SweepHit(
    [property: Id(0)] string Id,
    [property: Id(1)] DateTimeOffset ReceivedAt,
    [property: Id(2)] string? EnvelopeFrom,
    [property: Id(3)] string? From,
    [property: Id(4)] string? Subject,
    [property: Id(5)] string? MessageId,
    [property: Id(6)] IReadOnlyList<SweepCopy> Recipients);

/// <param name="Removed">The copies expunged, through each mailbox's grain.</param>
/// <param name="Failed">Copies whose mailbox refused or failed (left in place).</param>
[GenerateSerializer, Immutable]
public sealed record SweepDeletion(
    [property: Id(0)] string Id,
    [property: Id(1)] string? MessageId,
    [property: Id(2)] string? Subject,
    [property: Id(3)] IReadOnlyList<SweepCopy> Removed,
    [property: Id(4)] IReadOnlyList<SweepCopy> Failed);

/// <summary>Searches a whole domain's mail by its headers and deletes a message from every mailbox at once.</summary>
public interface IDomainSweepGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<SweepHit>> Search(string domain, SweepQuery query);

    /// <summary>
    /// Removes each message from every mailbox of <paramref name="domain"/> holding it, through the
    /// mailbox grains (flag \Deleted, then expunge those UIDs), so open IMAP sessions see EXPUNGE.
    /// Unknown ids come back with nothing removed.
    /// </summary>
    Task<IReadOnlyList<SweepDeletion>> Delete(string domain, IReadOnlyList<string> ids);
}
