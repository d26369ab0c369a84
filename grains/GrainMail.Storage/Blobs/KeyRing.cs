using GrainMail.Operations;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace GrainMail.Storage.Blobs;

/// <summary>
/// Per-domain data keys (256-bit AES) wrapped by the master key with AES-GCM and kept in
/// <c>domain_key</c>. Unwrapped keys are cached for the life of the process. A database
/// operator sees only wrapped keys; without the master key no blob can be read.
/// </summary>
public sealed class KeyRing(NpgsqlDataSource dataSource, MasterKey masterKey)
{
    /// <summary>
    /// A short text kept beside a message (the domain-wide search's Subject) sealed under the master
    /// key and bound to its domain and purpose, so that no subject is readable in the database.
    /// </summary>
    public byte[] SealText(string domain, string purpose, string text) =>
        masterKey.Wrap(System.Text.Encoding.UTF8.GetBytes(text), System.Text.Encoding.UTF8.GetBytes($"text:{purpose}:{domain}"));

    public string OpenText(string domain, string purpose, byte[] sealedText) =>
        System.Text.Encoding.UTF8.GetString(masterKey.Unwrap(sealedText, System.Text.Encoding.UTF8.GetBytes($"text:{purpose}:{domain}")));

    private readonly ConcurrentDictionary<string, byte[]> _tokenKeys = new(StringComparer.Ordinal);

    /// <summary>
    /// The HMAC key of a domain's search tokens (the subject words of <c>message_index</c>):
    /// derived from the master key, so tokens of one domain say nothing about another's and a
    /// database copy without the master key cannot test guessed words against them.
    /// </summary>
    public byte[] SearchTokenKey(string domain, string purpose) =>
        _tokenKeys.GetOrAdd($"search-token:{purpose}:{domain}", masterKey.Derive);

    private readonly ConcurrentDictionary<(string Domain, int KeyId), byte[]> _keys = new();
    private readonly ConcurrentDictionary<string, int> _current = new(StringComparer.Ordinal);

    /// <summary>The key new blobs of <paramref name="domain"/> are written with; created on first use.</summary>
    public async ValueTask<(int KeyId, byte[] Key)> CurrentKeyAsync(string domain, CancellationToken ct = default)
    {
        if (_current.TryGetValue(domain, out var id) && _keys.TryGetValue((domain, id), out var cached))
            return (id, cached);

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var found = await ReadLatestAsync(conn, domain, ct);
        if (found is null)
        {
            var key = RandomNumberGenerator.GetBytes(32);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO domain_key (domain, key_id, wrapped_key) VALUES (@d, 1, @w) ON CONFLICT DO NOTHING", conn);
            insert.Parameters.AddWithValue("d", domain);
            insert.Parameters.AddWithValue("w", masterKey.Wrap(key, WrapContext(domain, 1)));
            await insert.ExecuteNonQueryAsync(ct);
            // Another process may have won the race: read back whatever is stored.
            found = await ReadLatestAsync(conn, domain, ct) ?? throw new InvalidOperationException("domain key vanished");
        }
        _keys[(domain, found.Value.KeyId)] = found.Value.Key;
        _current[domain] = found.Value.KeyId;
        return found.Value;
    }

    public async ValueTask<byte[]> KeyAsync(string domain, int keyId, CancellationToken ct = default)
    {
        if (_keys.TryGetValue((domain, keyId), out var cached)) return cached;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT wrapped_key FROM domain_key WHERE domain = @d AND key_id = @k", conn);
        cmd.Parameters.AddWithValue("d", domain);
        cmd.Parameters.AddWithValue("k", keyId);
        var wrapped = await cmd.ExecuteScalarAsync(ct) as byte[]
            ?? throw new CryptographicException($"No data key {keyId} for domain {domain}");
        var key = masterKey.Unwrap(wrapped, WrapContext(domain, keyId));
        _keys[(domain, keyId)] = key;
        return key;
    }

    private async Task<(int KeyId, byte[] Key)?> ReadLatestAsync(NpgsqlConnection conn, string domain, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT key_id, wrapped_key FROM domain_key WHERE domain = @d ORDER BY key_id DESC LIMIT 1", conn);
        cmd.Parameters.AddWithValue("d", domain);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var keyId = r.GetInt32(0);
        return (keyId, masterKey.Unwrap((byte[])r[1], WrapContext(domain, keyId)));
    }

    // Binds a wrapped key to its domain and id, so that a row copied to another domain fails to unwrap.
    private static byte[] WrapContext(string domain, int keyId) => Encoding.UTF8.GetBytes($"grainmail-dek|{domain}|{keyId}");
}

/// <summary>The 256-bit master key that wraps every domain key.</summary>
public sealed class MasterKey
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public MasterKey(byte[] key)
    {
        if (key.Length != 32) throw new ArgumentException("The master key must be 32 bytes", nameof(key));
        _key = key;
    }

    /// <summary>
    /// Reads the master key from a file holding it as 64 hex digits, creating the file with
    /// mode 0600 on first start.
    /// </summary>
    public static MasterKey LoadOrCreate(string path) =>
        FromHex(SecretFile.ReadOrCreate(path, () => Convert.ToHexString(RandomNumberGenerator.GetBytes(32)).ToLowerInvariant()));

    public static MasterKey FromHex(string hex)
    {
        try
        {
            return new MasterKey(Convert.FromHexString(hex));
        }
        catch (FormatException)
        {
            throw new ArgumentException("The master key must be 64 hexadecimal digits");
        }
    }

    public byte[] Wrap(byte[] dataKey, byte[] context) => Seal(_key, dataKey, context);

    /// <summary>A 32-byte key for <paramref name="purpose"/> (HKDF-SHA256, RFC 5869), the same on every node that shares the master key.</summary>
    public byte[] Derive(string purpose) => HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, 32, info: System.Text.Encoding.UTF8.GetBytes(purpose));

    public byte[] Unwrap(byte[] wrapped, byte[] context) => Open(_key, wrapped, context);

    /// <summary>What sealing adds to the plain text: the nonce before, the tag after.</summary>
    internal const int SealOverhead = NonceSize + TagSize;

    internal static byte[] Seal(byte[] key, ReadOnlySpan<byte> plain, ReadOnlySpan<byte> aad)
    {
        var output = new byte[NonceSize + plain.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var gcm = new AesGcm(key, TagSize);
        gcm.Encrypt(nonce, plain, output.AsSpan(NonceSize, plain.Length), output.AsSpan(NonceSize + plain.Length), aad);
        return output;
    }

    internal static byte[] Open(byte[] key, ReadOnlySpan<byte> sealedData, ReadOnlySpan<byte> aad)
    {
        if (sealedData.Length < NonceSize + TagSize) throw new CryptographicException("Sealed data too short");
        var plain = new byte[sealedData.Length - NonceSize - TagSize];
        using var gcm = new AesGcm(key, TagSize);
        gcm.Decrypt(sealedData[..NonceSize], sealedData.Slice(NonceSize, plain.Length), sealedData[^TagSize..], plain, aad);
        return plain;
    }
}
