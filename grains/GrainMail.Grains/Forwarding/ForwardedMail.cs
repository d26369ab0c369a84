using GrainMail.Outbound;
using GrainMail.Outbound.Forwarding;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Inbound;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Forwarding;

/// <summary>
/// The one place that prepares mail GrainMail sends on to another domain: the envelope sender rewritten
/// by SRS (so the receiver's SPF check sees our domain, and a bounce still finds the original sender),
/// and an ARC set sealed with the forwarding domain's DKIM key (so the receiver can see what we verified
/// before we changed the message). Aliases to external targets use the sender rewrite; list posts to
/// external members (whose envelope sender is the list's owner address already) the seal; Sieve redirect
/// is meant to call both.
/// </summary>
public sealed class ForwardedMail(SrsRewriter srs, SrsKeyStore srsKeys, DkimKeyStore keys, TrustOptions trust, TimeProvider clock, ILogger<ForwardedMail> logger)
{
    public SrsRewriter Srs => srs;

    /// <summary>The envelope sender for a copy that <paramref name="forwardingDomain"/> sends on (null stays null).
    /// An SRS address whose local part would pass 64 octets becomes a stored key (<see cref="SrsRewriter.KeyPrefix"/>).</summary>
    public async Task<string?> EnvelopeSenderAsync(string? sender, string forwardingDomain, CancellationToken ct = default)
    {
        var rewritten = srs.Forward(sender, forwardingDomain);
        if (sender is null || rewritten is null || rewritten == sender || !SrsRewriter.LocalPartTooLong(rewritten)) return rewritten;
        var key = SrsRewriter.NewKey();
        await srsKeys.AddAsync(key, sender, srs.MaxAge, ct);
        return $"{key}@{forwardingDomain}";
    }

    /// <summary>What a local part of ours that looks like SRS stands for: <see cref="SrsRewriter.Reverse"/>, and for a
    /// stored key the table, with the same expiry as an SRS timestamp.</summary>
    public async Task<SrsReversal> ReverseAsync(string localPart, CancellationToken ct = default)
    {
        var reversal = srs.Reverse(localPart);
        if (reversal.Status != SrsStatus.Keyed) return reversal;
        if (await srsKeys.FindAsync(localPart, ct) is not var (original, createdAt)) return new(SrsStatus.Forged, null);
        return clock.GetUtcNow() - createdAt > srs.MaxAge ? new(SrsStatus.Expired, null) : new(SrsStatus.Valid, original);
    }

    /// <summary>Above this size a forward leaves unsealed: sealing reads the whole message into memory on the silo.</summary>
    public const long MaxSealBytes = 32L * 1024 * 1024;

    /// <summary>
    /// A submission with recipients outside: its outbound copies get an ARC set of the forwarding domain
    /// (<see cref="Submission.OutboundRaw"/>), the local copies keep the bytes as received. Unchanged when
    /// nothing leaves, the message is too large, or it cannot be sealed.
    /// </summary>
    public async Task<GrainMail.Storage.Delivery.Submission> SealOutboundAsync(GrainMail.Storage.Delivery.Submission submission, CancellationToken ct = default)
    {
        if (submission.External is not { Count: > 0 } || submission.ExternalOwner is not { } owner || submission.Raw.Length > MaxSealBytes) return submission;
        var raw = await submission.Raw.ToArrayAsync(ct);
        var sealedCopy = await SealAsync(owner, raw, ct);
        return ReferenceEquals(sealedCopy, raw) ? submission
            : submission with { OutboundRaw = new GrainMail.Operations.Spool.MessageContent(sealedCopy) };
    }

    /// <summary>The message with an ARC set of <paramref name="forwardingDomain"/> on top; unchanged when it cannot be sealed.</summary>
    public async Task<byte[]> SealAsync(string forwardingDomain, byte[] raw, CancellationToken ct = default)
    {
        if (await keys.SealingKeyAsync(forwardingDomain, ct) is not var (key, selector)) return raw;
        try
        {
            return ArcSeal.Seal(raw, key, forwardingDomain, selector, trust.AuthServId ?? Environment.MachineName.ToLowerInvariant(), clock.GetUtcNow());
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            // Forwarding goes on without a seal: the receiver sees what it would have seen before ARC.
            logger.LogWarning(e, "Could not ARC-seal a message forwarded by {Domain}", forwardingDomain);
            return raw;
        }
    }
}
