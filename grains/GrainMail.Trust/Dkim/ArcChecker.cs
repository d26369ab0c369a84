using GrainMail.Trust.Dns;
using MimeKit;
using MimeKit.Cryptography;

namespace GrainMail.Trust.Dkim;

/// <summary>ARC chain results (RFC 8617 4.4, as Authentication-Results writes them).</summary>
public enum ArcResult { None, Pass, Fail }

/// <summary>An ARC verdict: the chain validation status (cv= the next sealer would write), the number of
/// ARC sets, and why.</summary>
public sealed record ArcVerdict(ArcResult Result, int Instances, string Reason);

/// <summary>Verifies a message's ARC chain (RFC 8617 5.2) with MimeKit's verifier and keys from DNS.</summary>
public sealed class ArcChecker(ITrustDns dns)
{
    private readonly ArcVerifier _verifier = CreateVerifier(dns);

    private static ArcVerifier CreateVerifier(ITrustDns dns)
    {
        var verifier = new ArcVerifier(new DnsDkimKeyLocator(dns));
        verifier.Enable(DkimSignatureAlgorithm.RsaSha256);
        verifier.Enable(DkimSignatureAlgorithm.Ed25519Sha256);
        return verifier;
    }

    public async Task<ArcVerdict> VerifyAsync(MimeMessage message, CancellationToken ct)
    {
        var instances = message.Headers.Count(h => h.Id == HeaderId.ArcSeal);
        if (instances == 0 && !message.Headers.Any(h => h.Id is HeaderId.ArcMessageSignature or HeaderId.ArcAuthenticationResults))
            return new ArcVerdict(ArcResult.None, 0, "no ARC sets");
        try
        {
            var result = await _verifier.VerifyAsync(message, ct);
            return result.Chain switch
            {
                ArcSignatureValidationResult.Pass => new ArcVerdict(ArcResult.Pass, instances, "chain verified"),
                ArcSignatureValidationResult.None => new ArcVerdict(ArcResult.None, instances, "no ARC sets"),
                _ => new ArcVerdict(ArcResult.Fail, instances, "chain did not verify"),
            };
        }
        catch (Exception e) when (e is DkimKeyTemporaryException or DkimKeyMissingException or FormatException or ParseException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            // RFC 8617 5.2: any failure to validate the chain is cv=fail (there is no ARC temperror).
            return new ArcVerdict(ArcResult.Fail, instances, e.Message);
        }
    }
}
