namespace GrainMail.Contracts.Outbound;

/// <summary>
/// Health of one egress link as every route sees it (keyed by link name): routes report each
/// attempt, and a link with several connection failures in a row is "down" for a cool-down, so
/// that a relay that dies is avoided by all routes within seconds, not rediscovered by each.
/// </summary>
public interface ILinkHealthGrain : IGrainWithStringKey
{
    Task Report(bool reached, double seconds);

    Task<LinkHealth> GetHealth();
}

[GenerateSerializer, Immutable]
public sealed record LinkHealth(
    [property: Id(0)] bool Down,
    [property: Id(1)] int ConsecutiveFailures,
    [property: Id(2)] double SuccessRate,
    [property: Id(3)] DateTimeOffset? DownUntil);
