namespace GrainMail.Contracts.Domains;

/// <summary>Whether a domain's users may forward mail automatically out of the domain (issue 17, Sieve redirect).</summary>
public enum ExternalForwarding
{
    Allowed,
    Denied,
    /// <summary>Only to the domains in <see cref="ForwardingPolicy.Domains"/> (and the hosted domains).</summary>
    ListedDomains,
}

/// <summary>
/// A domain's policy on user-initiated automatic forwarding (a Sieve <c>redirect</c>) to addresses
/// outside every hosted domain. Forwarding to a hosted domain is never outside.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ForwardingPolicy(
    [property: Id(0)] ExternalForwarding Mode,
    [property: Id(1)] IReadOnlyList<string> Domains)
{
    public static readonly ForwardingPolicy AllowAll = new(ExternalForwarding.Allowed, []);

    /// <summary>Whether mail may be forwarded to <paramref name="targetDomain"/>, an external domain; null when yes, else why not.</summary>
    public string? Refusal(string targetDomain) => Mode switch
    {
        ExternalForwarding.Allowed => null,
        ExternalForwarding.Denied => "the domain does not allow automatic forwarding outside the domain",
        _ => Domains.Any(d => string.Equals(d, targetDomain, StringComparison.OrdinalIgnoreCase)
                || targetDomain.EndsWith("." + d, StringComparison.OrdinalIgnoreCase))
            ? null
            : $"the domain allows automatic forwarding only to {string.Join(", ", Domains)}",
    };
}
