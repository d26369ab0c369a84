using System.Formats.Asn1;
using System.Security.Cryptography;
using GrainMail.Contracts.Admin;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace GrainMail.Gateways.Http.Integrations;

/// <param name="Spki">DER SubjectPublicKeyInfo (RFC 5280 4.1.2.7), as stored.</param>
public sealed record IntegrationPublicKey(IntegrationKeyAlgorithm Algorithm, byte[] Spki, int Bits);

/// <summary>
/// The public keys integrations register: Ed25519 (RFC 8410) or RSA of at least 2048 bits
/// (NIST SP 800-131A: 1024-bit RSA, the seed's, is too weak), as a PEM "PUBLIC KEY" block or the
/// base64 of its DER; and the check of their signatures.
/// </summary>
public static class IntegrationKeys
{
    public const int MinRsaBits = 2048;
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string Ed25519Oid = "1.3.101.112";

    public static bool TryParse(string? text, out IntegrationPublicKey key, out string problem)
    {
        key = null!;
        problem = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            problem = "publicKey is required (PEM \"PUBLIC KEY\", SubjectPublicKeyInfo)";
            return false;
        }
        byte[] der;
        try
        {
            if (PemEncoding.TryFind(text, out var pem))
            {
                var label = text[pem.Label];
                if (label != "PUBLIC KEY")
                {
                    problem = $"a PEM \"{label}\" block; the key must be \"PUBLIC KEY\" (SubjectPublicKeyInfo)";
                    return false;
                }
                der = Convert.FromBase64String(text[pem.Base64Data]);
            }
            else
            {
                der = Convert.FromBase64String(text.Trim());
            }
        }
        catch (FormatException)
        {
            problem = "not PEM and not base64";
            return false;
        }

        string oid;
        byte[] keyBits;
        try
        {
            var spki = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var algorithm = spki.ReadSequence();
            oid = algorithm.ReadObjectIdentifier();
            keyBits = spki.ReadBitString(out _);
        }
        catch (AsnContentException)
        {
            problem = "not a DER SubjectPublicKeyInfo";
            return false;
        }

        switch (oid)
        {
            case Ed25519Oid:
                if (keyBits.Length != 32)
                {
                    problem = "an Ed25519 public key is 32 bytes";
                    return false;
                }
                key = new IntegrationPublicKey(IntegrationKeyAlgorithm.Ed25519, der, 256);
                return true;
            case RsaOid:
                using (var rsa = RSA.Create())
                {
                    try
                    {
                        rsa.ImportSubjectPublicKeyInfo(der, out _);
                    }
                    catch (CryptographicException)
                    {
                        problem = "not a valid RSA public key";
                        return false;
                    }
                    if (rsa.KeySize < MinRsaBits)
                    {
                        problem = $"RSA keys must have at least {MinRsaBits} bits; this one has {rsa.KeySize}";
                        return false;
                    }
                    key = new IntegrationPublicKey(IntegrationKeyAlgorithm.Rsa, der, rsa.KeySize);
                    return true;
                }
            default:
                problem = $"key algorithm {oid}; Ed25519 or RSA are accepted";
                return false;
        }
    }

    /// <summary>Ed25519 (RFC 8032 pure), or RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2).</summary>
    public static bool Verify(IntegrationKeyAlgorithm algorithm, byte[] spki, byte[] data, byte[] signature)
    {
        try
        {
            if (algorithm == IntegrationKeyAlgorithm.Rsa)
            {
                using var rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(spki, out _);
                return rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            }
            if (signature.Length != 64) return false;
            var raw = new AsnReader(spki, AsnEncodingRules.DER).ReadSequence();
            raw.ReadSequence();
            var signer = new Ed25519Signer();
            signer.Init(false, new Ed25519PublicKeyParameters(raw.ReadBitString(out _), 0));
            signer.BlockUpdate(data, 0, data.Length);
            return signer.VerifySignature(signature);
        }
        catch (Exception e) when (e is CryptographicException or AsnContentException or ArgumentException)
        {
            return false;
        }
    }
}
