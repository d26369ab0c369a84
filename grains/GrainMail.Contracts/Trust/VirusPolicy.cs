namespace GrainMail.Contracts.Trust;

/// <summary>
/// A domain's choice for when clamd cannot answer (unreachable, timing out, in error): refuse for now
/// (451 4.7.1, the sender retries; the default) or deliver unscanned, marked with an X-Virus-Status header.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record VirusPolicy([property: Id(0)] bool DeliverUnscanned)
{
    public static VirusPolicy Default { get; } = new(false);
}

/// <summary>A domain's virus policy, one grain per domain (key: the domain name).</summary>
public interface IVirusPolicyGrain : IGrainWithStringKey
{
    [Retryable]
    Task<VirusPolicy> Get();

    /// <summary>Stores the policy and writes one audit entry for <paramref name="actor"/>.</summary>
    Task Set(VirusPolicy policy, string actor, string clientIp);
}
