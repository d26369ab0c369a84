using GrainMail.Outbound;
using GrainMail.Outbound.Forwarding;
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
public sealed class ForwardedMail(SrsRewriter srs, DkimKeyStore keys, TrustOptions trust, TimeProvider clock, ILogger<ForwardedMail> logger)
{
    public SrsRewriter Srs => srs;

    /// <summary>The envelope sender for a copy that <paramref name="forwardingDomain"/> sends on (null stays null).</summary>
    public string? EnvelopeSender(string? sender, string forwardingDomain) => srs.Forward(sender, forwardingDomain);

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
