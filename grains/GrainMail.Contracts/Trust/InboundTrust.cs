namespace GrainMail.Contracts.Trust;

/// <summary>
/// What the SMTP session knew about an MX message besides its envelope, for the checks that run on
/// the silo before the 250: the connecting address and the HELO name. The message bytes travel once,
/// in the intake call that commits them; nothing else is sent for the checks.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record InboundEvidence(
    [property: Id(0)] string ClientIp,
    [property: Id(1)] string? Helo);

/// <summary>What happens to a message for a recipient, from the mildest to the strictest.</summary>
public enum TrustAction { Deliver, Junk, Quarantine, Reject, TempFail }

/// <summary>A blocklist zone of a domain's policy and the weight of a listing in it.</summary>
[GenerateSerializer, Immutable]
public sealed record SpamZone(
    [property: Id(0)] string Zone,
    [property: Id(1)] double Weight);

/// <summary>
/// A domain's spam policy: score thresholds (a message at or above one gets that action), weights
/// that replace the default weight of a symbol, blocklists for the connecting IP (DNSBL) and for
/// domains linked in the body (URIBL) on top of the node's, and whether a failing DMARC p=reject is
/// obeyed (550 5.7.1) or softened to Junk.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record SpamPolicy(
    [property: Id(0)] double JunkAt,
    [property: Id(1)] double QuarantineAt,
    [property: Id(2)] double RejectAt,
    [property: Id(3)] bool DmarcRejectAsJunk,
    [property: Id(4)] IReadOnlyDictionary<string, double> Weights,
    [property: Id(5)] IReadOnlyList<SpamZone> Blocklists,
    [property: Id(6)] IReadOnlyList<SpamZone> UriBlocklists)
{
    /// <summary>The defaults: one blocklist listing (weight 7) gives Junk at most, two reject (14 against 12).</summary>
    public static SpamPolicy Default { get; } = new(5, 9, 12, false, new Dictionary<string, double>(), [], []);

    /// <summary>Why the policy cannot be used, or null.</summary>
    public string? Problem()
    {
        if (!(JunkAt <= QuarantineAt && QuarantineAt <= RejectAt)) return "thresholds must satisfy junkAt <= quarantineAt <= rejectAt";
        if (new[] { JunkAt, QuarantineAt, RejectAt }.Any(t => double.IsNaN(t) || double.IsInfinity(t))) return "thresholds must be numbers";
        if (Weights.Any(w => w.Key.Length is 0 or > 64 || double.IsNaN(w.Value) || double.IsInfinity(w.Value))) return "weights must name a symbol and be numbers";
        foreach (var z in Blocklists.Concat(UriBlocklists))
        {
            if (!IsZone(z.Zone)) return $"'{z.Zone}' is not a DNS zone";
            if (double.IsNaN(z.Weight) || double.IsInfinity(z.Weight)) return $"the weight of {z.Zone} must be a number";
        }
        if (Blocklists.Count + UriBlocklists.Count > 32) return "at most 32 blocklist zones";
        return null;
    }

    private static bool IsZone(string zone) =>
        zone.Length is > 0 and <= 200 && zone.Split('.') is { Length: >= 2 } labels
        && labels.All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
}

/// <summary>A domain's spam policy, kept by one grain per domain (key: the domain name).</summary>
public interface ISpamPolicyGrain : IGrainWithStringKey
{
    [Retryable]
    Task<SpamPolicy> Get();

    Task Set(SpamPolicy policy);
}

/// <summary>One received message as the receive log keeps it, per recipient mailbox.</summary>
[GenerateSerializer, Immutable]
public sealed record ReceiveLogEntry(
    [property: Id(0)] DateTimeOffset ReceivedAt,
    [property: Id(1)] string Mailbox,
    [property: Id(2)] string? Sender,
    [property: Id(3)] string ClientIp,
    [property: Id(4)] string? FromDomain,
    [property: Id(5)] string Action,
    [property: Id(6)] double Score,
    [property: Id(7)] string Symbols,
    [property: Id(8)] string AuthenticationResults);

/// <summary>Reads the receive log (the silo side owns the database).</summary>
public interface IReceiveLogGrain : IGrainWithIntegerKey
{
    [Retryable]
    Task<IReadOnlyList<ReceiveLogEntry>> Read(string mailbox, int limit);
}

/// <summary>A message held in quarantine, as the admin API lists it.</summary>
[GenerateSerializer, Immutable]
public sealed record QuarantinedMessage(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Mailbox,
    [property: Id(2)] string? Sender,
    [property: Id(3)] long Size,
    [property: Id(4)] double Score,
    [property: Id(5)] string Symbols,
    [property: Id(6)] DateTimeOffset ReceivedAt);

/// <summary>The quarantine for the admin API: list, release (delivered to the INBOX then), delete.</summary>
public interface IQuarantineGrain : IGrainWithIntegerKey
{
    /// <summary>Held messages of a mailbox, or of every mailbox of a domain.</summary>
    [Retryable]
    Task<IReadOnlyList<QuarantinedMessage>> List(string? mailbox, string? domain);

    /// <summary>False when no such message is held.</summary>
    Task<bool> Release(Guid id);

    Task<bool> Delete(Guid id);
}

/// <summary>What a sender (a network or an authenticated domain) has sent lately: decayed counts.</summary>
[GenerateSerializer, Immutable]
public sealed record ReputationSnapshot(
    [property: Id(0)] double Volume,
    [property: Id(1)] double Spam,
    [property: Id(2)] double Ham);

/// <summary>
/// Sender reputation, one grain per sending network ("net:192.0.2.0/24", "net:2001:db8::/64") and per
/// DMARC-aligned From domain ("domain:example.com"): how much mail it sent and how much of it was judged
/// spam or ham, decaying with a half-life so that old behaviour fades.
/// </summary>
public interface IReputationGrain : IGrainWithStringKey
{
    /// <summary>The decayed counts; reads only, so it runs beside the grain's other calls (every message of a
    /// busy network asks the same grain, and must not queue behind the counting).</summary>
    [Retryable, Orleans.Concurrency.ReadOnly, Orleans.Concurrency.AlwaysInterleave]
    Task<ReputationSnapshot> Get();

    /// <summary>Counts one message and its verdict; fire and forget (the 250 does not wait for it).</summary>
    [Orleans.Concurrency.OneWay]
    Task Record(bool spam);

    /// <summary>Counts several messages at once (a silo's verdicts gathered for a moment, <c>ReputationView</c>):
    /// one call instead of one per message; fire and forget.</summary>
    [Orleans.Concurrency.OneWay]
    Task Add(int spam, int ham);

    /// <summary>A user's verdict overturns the one a message was counted with: one count moves from the other
    /// class to <paramref name="spam"/>'s (neither goes below zero nor above the volume).</summary>
    Task Correct(bool spam);
}
