namespace GrainMail.Contracts.Audit;

/// <summary>An entry to append, as a gateway describes it (see GrainMail.Storage.Audit.AuditRecord).</summary>
[GenerateSerializer, Immutable]
public sealed record AuditWrite(
    [property: Id(0)] string Actor,
    [property: Id(1)] string ActorRole,
    [property: Id(2)] string ClientIp,
    [property: Id(3)] string Action,
    [property: Id(4)] string Target,
    [property: Id(5)] string? Domain,
    [property: Id(6)] string Result,
    [property: Id(7)] string? Detail);

/// <summary>A stored entry as the API shows it.</summary>
[GenerateSerializer, Immutable]
public sealed record AuditItem(
    [property: Id(0)] long Id,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Actor,
    [property: Id(3)] string ActorRole,
    [property: Id(4)] string ClientIp,
    [property: Id(5)] string Action,
    [property: Id(6)] string Target,
    [property: Id(7)] string? Domain,
    [property: Id(8)] string Result,
    [property: Id(9)] string? Detail,
    [property: Id(10)] string Hash);

/// <param name="Domains">The domains the caller may see; null: every entry (the super admin).</param>
[GenerateSerializer, Immutable]
public sealed record AuditQuery(
    [property: Id(0)] string? Actor,
    [property: Id(1)] string? Action,
    [property: Id(2)] string? Target,
    [property: Id(3)] DateTimeOffset? From,
    [property: Id(4)] DateTimeOffset? To,
    [property: Id(5)] IReadOnlyList<string>? Domains,
    [property: Id(6)] long AfterId,
    [property: Id(7)] int Limit);

[GenerateSerializer, Immutable]
public sealed record AuditVerification(
    [property: Id(0)] bool Intact,
    [property: Id(1)] long Checked,
    [property: Id(2)] long HeadId,
    [property: Id(3)] long LastId,
    [property: Id(4)] long? FirstBrokenId,
    [property: Id(5)] string? Problem,
    [property: Id(6)] long? AnchoredId = null,
    [property: Id(7)] DateTimeOffset? AnchoredAt = null);

/// <summary>The chain's tip as anchored outside the database: entry id and hash, when, and the file it went to.</summary>
[GenerateSerializer, Immutable]
public sealed record AuditAnchorItem(
    [property: Id(0)] long Id,
    [property: Id(1)] string Hash,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string File);

/// <summary>The audit log (issue 16) for processes that hold no database credentials: gateways append and read through it.</summary>
public interface IAuditGrain : IGrainWithIntegerKey
{
    Task Append(AuditWrite entry);

    [Retryable]
    Task<IReadOnlyList<AuditItem>> Search(AuditQuery query);

    [Retryable]
    Task<AuditVerification> Verify();

    /// <summary>Anchors the chain's tip outside the database now (the anchor file of the silo that answers).</summary>
    Task<AuditAnchorItem> Anchor();

    /// <summary>Applies the retention now (what the periodic service does); returns the entries removed.</summary>
    Task<int> Prune();
}
