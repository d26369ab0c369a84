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

/// <summary>The browser that redeems a sign-on ticket: its address is the one the login IP rules judge.</summary>
[GenerateSerializer, Immutable]
public sealed record SsoBrowser(
    [property: Id(0)] string RemoteIp,
    [property: Id(1)] string? ClientName);

public enum SsoRedeemStatus
{
    Redeemed,

    /// <summary>Unknown, already used or expired.</summary>
    NoSuchTicket,

    /// <summary>The account's login was refused (IP rules, disabled, deleted); the ticket is spent all the same.</summary>
    Refused,
}

/// <param name="Outcome">The account's answer when <paramref name="Status"/> is <see cref="SsoRedeemStatus.Refused"/>.</param>
[GenerateSerializer, Immutable]
public sealed record SsoRedemption(
    [property: Id(0)] SsoRedeemStatus Status,
    [property: Id(1)] SsoRedeemed? Redeemed = null,
    [property: Id(2)] GrainMail.Contracts.Accounts.AuthOutcome Outcome = GrainMail.Contracts.Accounts.AuthOutcome.Success,
    [property: Id(3)] string? Reason = null);

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
    /// Consumes a ticket (once: a second call finds nothing), signs the account on from the redeeming
    /// <paramref name="browser"/> (<see cref="GrainMail.Contracts.Accounts.IAccountGrain.SignOn"/>: IP rules,
    /// login record, new-location notice) and starts a user session under <paramref name="sessionTokenHash"/>.
    /// </summary>
    Task<SsoRedemption> RedeemSsoTicket(byte[] ticketHash, byte[] sessionTokenHash, SsoBrowser browser);
}
