using GrainMail.Trust.Dns;
using MimeKit;
using MimeKit.Cryptography;

namespace GrainMail.Trust.Dkim;

/// <summary>DKIM results as Authentication-Results writes them (RFC 8601 2.7.1).</summary>
public enum DkimResult { None, Pass, Fail, Neutral, Policy, TempError, PermError }

/// <summary>One signature's verdict: its d=, s=, a=, the start of b= (to tell signatures apart, RFC 6008)
/// and why.</summary>
public sealed record DkimSignatureVerdict(DkimResult Result, string Domain, string Selector, string Algorithm, string SignaturePrefix, string Reason);

/// <summary>Verifies every DKIM-Signature of a message (RFC 6376; rsa-sha256 and ed25519-sha256, RFC 8463)
/// with MimeKit's verifier and keys from DNS. rsa-sha1 is not accepted (RFC 8301).</summary>
public sealed class DkimChecker
{
    private readonly DkimVerifier _verifier;

    public DkimChecker(ITrustDns dns)
    {
        _verifier = new DkimVerifier(new DnsDkimKeyLocator(dns));
        _verifier.Enable(DkimSignatureAlgorithm.RsaSha256);
        _verifier.Enable(DkimSignatureAlgorithm.Ed25519Sha256);
        _verifier.Disable(DkimSignatureAlgorithm.RsaSha1);
    }

    public async Task<IReadOnlyList<DkimSignatureVerdict>> VerifyAsync(MimeMessage message, CancellationToken ct)
    {
        var verdicts = new List<DkimSignatureVerdict>();
        foreach (var header in message.Headers.Where(h => h.Id == HeaderId.DkimSignature).ToList())
            verdicts.Add(await VerifyOneAsync(message, header, ct));
        return verdicts;
    }

    private async Task<DkimSignatureVerdict> VerifyOneAsync(MimeMessage message, Header header, CancellationToken ct)
    {
        var tags = TagList.Parse(header.Value);
        var domain = tags.GetValueOrDefault("d", "");
        var selector = tags.GetValueOrDefault("s", "");
        var algorithm = tags.GetValueOrDefault("a", "").ToLowerInvariant();
        var b = new string(tags.GetValueOrDefault("b", "").Where(c => !char.IsWhiteSpace(c)).ToArray());
        DkimSignatureVerdict Verdict(DkimResult r, string why) => new(r, domain, selector, algorithm, b.Length > 8 ? b[..8] : b, why);

        if (domain.Length == 0 || selector.Length == 0 || b.Length == 0 || !tags.ContainsKey("bh") || !tags.ContainsKey("h"))
            return Verdict(DkimResult.PermError, "the signature lacks a required tag (d, s, b, bh or h)");
        if (algorithm is not ("rsa-sha256" or "ed25519-sha256"))
            return Verdict(DkimResult.PermError, $"signature algorithm {algorithm} is not accepted");
        try
        {
            var good = await _verifier.VerifyAsync(message, header, ct);
            return good ? Verdict(DkimResult.Pass, "signature verified") : Verdict(DkimResult.Fail, "signature or body hash did not verify");
        }
        catch (DkimKeyTemporaryException e)
        {
            return Verdict(DkimResult.TempError, e.Message);
        }
        catch (DkimKeyMissingException e)
        {
            return Verdict(DkimResult.PermError, e.Message);
        }
        catch (Exception e) when (e is FormatException or ParseException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return Verdict(DkimResult.PermError, e.Message);
        }
    }
}

/// <summary>tag=value; lists (RFC 6376 3.2), as DKIM, ARC and DMARC records use them.</summary>
public static class TagList
{
    public static Dictionary<string, string> Parse(string text)
    {
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in text.Split(';'))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) continue;
            var name = part[..eq].Trim();
            if (name.Length == 0 || tags.ContainsKey(name)) continue;
            tags[name] = part[(eq + 1)..].Trim();
        }
        return tags;
    }
}
