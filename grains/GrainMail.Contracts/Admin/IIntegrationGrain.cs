namespace GrainMail.Contracts.Admin;

public enum IntegrationKeyAlgorithm
{
    Ed25519,

    /// <summary>RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2), keys of 2048 bits or more.</summary>
    Rsa,
}

/// <param name="PublicKey">DER SubjectPublicKeyInfo (RFC 5280 4.1.2.7).</param>
/// <param name="AllowedSources">Addresses and CIDR prefixes the integration may call from.</param>
[GenerateSerializer, Immutable]
public sealed record Integration(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Name,
    [property: Id(2)] string Domain,
    [property: Id(3)] IntegrationKeyAlgorithm Algorithm,
    [property: Id(4)] byte[] PublicKey,
    [property: Id(5)] IReadOnlyList<string> AllowedSources,
    [property: Id(6)] string CreatedBy,
    [property: Id(7)] DateTimeOffset CreatedAt);

[GenerateSerializer, Immutable]
public sealed record SsoRedeemed(
    [property: Id(0)] string Account,
    [property: Id(1)] SessionStarted Session);

public enum IntegrationRegisterStatus
{
    Registered,
    NoSuchDomain,
}

/// <summary>
/// Registered integrations, the replay store of their signed requests and single sign-on
/// tickets, kept in PostgreSQL so that every gateway sees the same nonces.
/// </summary>
public interface IIntegrationGrain : IGrainWithIntegerKey
{
    Task<IntegrationRegisterStatus> Register(Integration integration);

    [Retryable]
    Task<IReadOnlyList<Integration>> List(string? domain);

    [Retryable]
    Task<Integration?> Get(Guid id);

    Task<bool> Delete(Guid id);

    /// <summary>Records a nonce until <paramref name="keepUntil"/>; false when it was seen before (a replay).</summary>
    Task<bool> UseNonce(Guid integrationId, string nonce, DateTimeOffset keepUntil);

    /// <summary>Stores a one-time sign-on ticket (its hash) for an account; returns when it expires.</summary>
    Task<DateTimeOffset> IssueSsoTicket(Guid integrationId, string account, byte[] ticketHash);

    /// <summary>
    /// Consumes a ticket (once: a second call finds nothing) and starts a user session under
    /// <paramref name="sessionTokenHash"/>; null when the ticket is unknown, used or expired.
    /// </summary>
    Task<SsoRedeemed?> RedeemSsoTicket(byte[] ticketHash, byte[] sessionTokenHash);
}
