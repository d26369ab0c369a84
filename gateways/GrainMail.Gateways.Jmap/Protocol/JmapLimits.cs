namespace GrainMail.Gateways.Jmap.Protocol;

/// <summary>The limits advertised under urn:ietf:params:jmap:core (RFC 8620 2) and enforced.</summary>
public sealed record JmapLimits
{
    public long MaxSizeUpload { get; init; } = 50L * 1024 * 1024;
    public int MaxConcurrentUpload { get; init; } = 4;
    public long MaxSizeRequest { get; init; } = 10L * 1024 * 1024;
    public int MaxConcurrentRequests { get; init; } = 4;
    public int MaxCallsInRequest { get; init; } = 32;
    public int MaxObjectsInGet { get; init; } = 500;
    public int MaxObjectsInSet { get; init; } = 500;

    /// <summary>RFC 4790 collations the server's text comparisons use (RFC 8620 2: collationAlgorithms).</summary>
    public IReadOnlyList<string> CollationAlgorithms { get; init; } = ["i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"];
}
