using System.Text;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Crypto;

namespace GrainMail.Outbound.Forwarding;

/// <summary>
/// Adds an ARC set (RFC 8617: ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) to a
/// message we forward, signed with the forwarding domain's DKIM key, so that the next receiver can
/// trust the verdicts we had before we changed the message (list headers) and the envelope (SRS).
///
/// The AAR carries our own Authentication-Results (the header our inbound checks put on top, under
/// our authserv-id). The seal's cv= is our ARC verdict on the sets already there (RFC 8617 5.1.1):
/// none without sets, else the arc= result in our Authentication-Results. A message with sets and
/// no verdict of ours (it did not come in through our MX) is not sealed, since we could not vouch for
/// its chain; nor is one with 50 sets already (the limit of i=, RFC 8617 4.2.1). Only the new header
/// fields are added in front of the original bytes: nothing already there is rewritten.
/// </summary>
public static class ArcSeal
{
    /// <summary>Header fields the ARC-Message-Signature covers when present (From always).</summary>
    private static readonly string[] SignedFields =
    [
        "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References", "MIME-Version",
        "Content-Type", "Content-Transfer-Encoding", "List-Id", "List-Post", "List-Unsubscribe", "List-Owner", "Sender",
    ];

    public const int MaxInstance = 50;

    /// <summary>The sealed message, or <paramref name="raw"/> itself when it cannot be sealed (see the class).</summary>
    public static byte[] Seal(byte[] raw, AsymmetricKeyParameter key, string domain, string selector, string authServId, DateTimeOffset now)
    {
        MimeMessage message;
        try
        {
            using var stream = new MemoryStream(raw, writable: false);
            message = MimeMessage.Load(stream);
        }
        catch (FormatException)
        {
            return raw;
        }
        if (message.Headers[HeaderId.From] is null) return raw;
        var sets = message.Headers.Count(h => h.Id == HeaderId.ArcSeal);
        if (sets >= MaxInstance) return raw;
        var ours = OurResults(message, authServId);
        if (sets > 0 && ours?.Results.Any(r => r.Method.Equals("arc", StringComparison.OrdinalIgnoreCase)) != true) return raw;

        var signer = new Sealer(key, domain, selector, authServId, ours?.Results ?? [], now)
        {
            HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
            BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed,
        };
        var before = message.Headers.Count;
        var fields = SignedFields.Where(f => message.Headers.Contains(f)).ToList();
        signer.Sign(FormatOptions.Default, message, fields);
        if (message.Headers.Count != before + 3) return raw;

        // ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results, each with CRLF line ends.
        var added = new StringBuilder();
        for (var i = 0; i < 3; i++)
        {
            var h = message.Headers[i];
            var value = Encoding.ASCII.GetString(h.RawValue).Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal);
            if (!value.EndsWith("\r\n", StringComparison.Ordinal)) value += "\r\n";
            added.Append(h.Field).Append(':').Append(value);
        }
        var head = Encoding.ASCII.GetBytes(added.ToString());
        var at = AfterReturnPath(raw);
        var sealedBytes = new byte[raw.Length + head.Length];
        raw.AsSpan(0, at).CopyTo(sealedBytes);
        head.CopyTo(sealedBytes, at);
        raw.AsSpan(at).CopyTo(sealedBytes.AsSpan(at + head.Length));
        return sealedBytes;
    }

    /// <summary>The first Authentication-Results under our authserv-id (our inbound checks put it on top), or null.</summary>
    private static AuthenticationResults? OurResults(MimeMessage message, string authServId)
    {
        foreach (var h in message.Headers.Where(h => h.Id == HeaderId.AuthenticationResults))
        {
            if (AuthenticationResults.TryParse(h.RawValue, out var parsed) && string.Equals(parsed.AuthenticationServiceIdentifier, authServId, StringComparison.OrdinalIgnoreCase))
                return parsed;
        }
        return null;
    }

    /// <summary>Where new fields go: after a leading Return-Path (it stays the first field), else at the start.</summary>
    private static int AfterReturnPath(byte[] raw)
    {
        const string name = "Return-Path:";
        if (raw.Length < name.Length || !Encoding.ASCII.GetString(raw, 0, name.Length).Equals(name, StringComparison.OrdinalIgnoreCase)) return 0;
        var i = 0;
        while (true)
        {
            var lf = Array.IndexOf(raw, (byte)'\n', i);
            if (lf < 0) return 0;
            i = lf + 1;
            if (i >= raw.Length || (raw[i] != ' ' && raw[i] != '\t')) return i;
        }
    }

    private sealed class Sealer(AsymmetricKeyParameter key, string domain, string selector, string authServId,
        IList<AuthenticationMethodResult> results, DateTimeOffset now) : ArcSigner(key, domain, selector, DkimSignatureAlgorithm.RsaSha256)
    {
        protected override AuthenticationResults GenerateArcAuthenticationResults(FormatOptions options, MimeMessage message, CancellationToken cancellationToken)
        {
            var aar = new AuthenticationResults(authServId);
            foreach (var r in results) aar.Results.Add(r);
            return aar;
        }

        protected override Task<AuthenticationResults> GenerateArcAuthenticationResultsAsync(FormatOptions options, MimeMessage message, CancellationToken cancellationToken) =>
            Task.FromResult(GenerateArcAuthenticationResults(options, message, cancellationToken));

        protected override long GetTimestamp() => now.ToUnixTimeSeconds();
    }
}
