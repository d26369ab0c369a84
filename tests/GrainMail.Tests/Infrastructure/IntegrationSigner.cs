using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

public sealed record IntegrationKey(string PrivatePem, string PublicPem);

/// <summary>
/// Signs integration API requests the way an enterprise's own system would, with an
/// implementation independent of the server's: Python's <c>cryptography</c> (Debian's
/// python3-cryptography) makes the keys, builds the signed text from the documented scheme and
/// signs it (Ed25519, or RSASSA-PKCS1-v1_5 with SHA-256).
/// </summary>
public static class IntegrationSigner
{
    private const string Script = """
        import sys, base64, hashlib
        from cryptography.hazmat.primitives import serialization, hashes
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa, padding
        cmd = sys.argv[1]
        if cmd == "keygen":
            kind = sys.argv[2]
            if kind == "ed25519":
                k = ed25519.Ed25519PrivateKey.generate()
            else:
                k = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
            sys.stdout.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
            sys.stdout.write(k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
        else:
            keyfile, method, target, ts, nonce, bodyfile = sys.argv[2:8]
            k = serialization.load_pem_private_key(open(keyfile, "rb").read(), password=None)
            body = open(bodyfile, "rb").read()
            text = "\n".join(["grainmail-integration-v1", method.upper(), target, ts, nonce, hashlib.sha256(body).hexdigest()]).encode()
            sig = k.sign(text) if isinstance(k, ed25519.Ed25519PrivateKey) else k.sign(text, padding.PKCS1v15(), hashes.SHA256())
            print(base64.b64encode(sig).decode())
        """;

    /// <param name="kind"><c>ed25519</c>, or <c>rsa</c> and a size (<c>rsa2048</c>, <c>rsa1024</c>).</param>
    public static IntegrationKey NewKey(string kind)
    {
        var pem = Python("keygen", kind);
        var split = pem.IndexOf("-----BEGIN PUBLIC KEY-----", StringComparison.Ordinal);
        return new IntegrationKey(pem[..split], pem[split..]);
    }

    public static string Sign(IntegrationKey key, string method, string target, long timestamp, string nonce, byte[] body)
    {
        var keyFile = Path.GetTempFileName();
        var bodyFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(keyFile, key.PrivatePem);
            File.WriteAllBytes(bodyFile, body);
            return Python("sign", keyFile, method, target, timestamp.ToString(CultureInfo.InvariantCulture), nonce, bodyFile).Trim();
        }
        finally
        {
            File.Delete(keyFile);
            File.Delete(bodyFile);
        }
    }

    public static string NewNonce() => Guid.NewGuid().ToString("N");

    /// <summary>A signed request; <paramref name="timestamp"/> and <paramref name="nonce"/> default to now and a fresh one.</summary>
    public static HttpRequestMessage Request(Guid integration, IntegrationKey key, HttpMethod method, string target, byte[]? body = null,
        long? timestamp = null, string? nonce = null)
    {
        var ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        nonce ??= NewNonce();
        var req = new HttpRequestMessage(method, target);
        if (body is not null)
        {
            req.Content = new ByteArrayContent(body);
            req.Content.Headers.ContentType = new("application/json");
        }
        req.Headers.Add("GrainMail-Integration", integration.ToString());
        req.Headers.Add("GrainMail-Timestamp", ts.ToString(CultureInfo.InvariantCulture));
        req.Headers.Add("GrainMail-Nonce", nonce);
        req.Headers.Add("GrainMail-Signature", Sign(key, method.Method, target, ts, nonce, body ?? []));
        return req;
    }

    /// <summary>A copy of a signed request, headers and body alike: what a replaying attacker sends.</summary>
    public static async Task<HttpRequestMessage> Copy(HttpRequestMessage original)
    {
        var copy = new HttpRequestMessage(original.Method, original.RequestUri);
        foreach (var h in original.Headers) copy.Headers.TryAddWithoutValidation(h.Key, h.Value);
        if (original.Content is not null)
        {
            copy.Content = new ByteArrayContent(await original.Content.ReadAsByteArrayAsync());
            copy.Content.Headers.ContentType = original.Content.Headers.ContentType;
        }
        return copy;
    }

    private static string Python(params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"python3 {args[0]} failed: {error}");
        return output.Result;
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
