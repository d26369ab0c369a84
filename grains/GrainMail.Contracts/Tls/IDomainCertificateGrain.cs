using Orleans.Concurrency;

namespace GrainMail.Contracts.Tls;

/// <summary>A domain's certificate chain (PEM, leaf first) and private key (PEM), as the TLS listeners need them.</summary>
[GenerateSerializer, Immutable]
public sealed record DomainCertificate(
    [property: Id(0)] string Domain,
    [property: Id(1)] string ChainPem,
    [property: Id(2)] string KeyPem);

/// <summary>What the admin API shows of a stored certificate (never the key).</summary>
[GenerateSerializer, Immutable]
public sealed record DomainCertificateInfo(
    [property: Id(0)] string Domain,
    [property: Id(1)] string Subject,
    [property: Id(2)] IReadOnlyList<string> Names,
    [property: Id(3)] DateTimeOffset NotBefore,
    [property: Id(4)] DateTimeOffset NotAfter,
    [property: Id(5)] string Sha256,
    [property: Id(6)] DateTimeOffset UploadedAt,
    [property: Id(7)] int ChainLength);

/// <summary>
/// The per-domain certificates (seed 4.2.19), kept on the silos: the key is sealed under the master
/// key, which gateways do not hold, so they ask here. Gateways cache the whole set and pick by SNI
/// at each handshake; <see cref="Stamp"/> is the cheap question "did anything change?".
/// </summary>
public interface IDomainCertificateGrain : IGrainWithIntegerKey
{
    /// <summary>Stores (or replaces) a certificate that the caller has validated.</summary>
    Task<DomainCertificateInfo> Put(DomainCertificate certificate, DomainCertificateInfo info);

    Task<DomainCertificateInfo?> Get(string domain);

    Task<bool> Delete(string domain);

    /// <summary>Changes whenever a certificate is stored or removed.</summary>
    [Retryable]
    Task<string> Stamp();

    [Retryable]
    Task<Immutable<IReadOnlyList<DomainCertificate>>> LoadAll();
}
