using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Intake;
using Microsoft.Extensions.Caching.Memory;

namespace GrainMail.Gateways.Common.Messages;

/// <summary>
/// A stored message's bytes, with room for one parsed form that a protocol builds on first use
/// (IMAP keeps its MIME tree here) and that lives as long as the bytes stay cached.
/// </summary>
public sealed class LoadedMessage(byte[] raw)
{
    private object? _view;

    public byte[] Raw => raw;

    /// <summary>The parsed form of type <typeparamref name="T"/>, built by <paramref name="build"/> once.</summary>
    public T View<T>(Func<byte[], T> build) where T : class
    {
        if (Volatile.Read(ref _view) is T existing) return existing;
        var built = build(raw);
        // Two sessions racing keep one of the two (equal) results.
        return Interlocked.CompareExchange(ref _view, built, null) as T ?? built;
    }
}

/// <summary>
/// Recently read messages, shared by every IMAP and POP3 session of this process and bounded
/// in bytes (a <see cref="MemoryCache"/> whose entries are sized by their bytes): a client that
/// lists a folder and then opens messages has each read (and decrypted) by a silo once.
/// Keyed by blob, which is content-addressed, so entries never go stale. The one place the
/// gateways get message bytes from.
/// </summary>
public sealed class MessageCache(MessageIntake intake, long maxBytes = MessageCache.DefaultMaxBytes) : IDisposable
{
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    private readonly MemoryCache _cache = new(new MemoryCacheOptions { SizeLimit = maxBytes });

    public long MaxBytes => maxBytes;

    public async Task<LoadedMessage?> GetAsync(BlobRef blob, CancellationToken ct = default)
    {
        var key = Key(blob);
        if (_cache.TryGetValue(key, out LoadedMessage? cached) && cached is not null) return cached;
        var raw = await intake.ReadAsync(blob);
        if (raw is null) return null;
        var message = new LoadedMessage(raw);
        // One large message must not push out everything else: it is handed out, not kept.
        if (raw.Length > maxBytes / 8) return message;
        // Counted at least 1 so that empty messages are sized entries too (SizeLimit needs a size on every entry).
        _cache.Set(key, message, new MemoryCacheEntryOptions { Size = Math.Max(1, raw.Length) });
        return message;
    }

    /// <summary>
    /// Several messages at once, in the order asked (null for one that is gone): those cached from the cache,
    /// the others in batches of one grain call and one PostgreSQL statement each (a JMAP list page of 50
    /// uncached messages was 50 calls). A batch holds at most <see cref="BatchBytes"/>; a message larger than
    /// <see cref="MessageIntake.SingleCallLimit"/> is read on its own as <see cref="GetAsync"/> reads it.
    /// </summary>
    /// <param name="keep">False: those read are handed out and not cached (bytes needed once, such as for a list's summaries).</param>
    public async Task<IReadOnlyList<LoadedMessage?>> GetManyAsync(IReadOnlyList<BlobRef> blobs, CancellationToken ct = default, bool keep = true)
    {
        var result = new LoadedMessage?[blobs.Count];
        var batch = new List<int>();
        long batchBytes = 0;
        for (var i = 0; i < blobs.Count; i++)
        {
            if (_cache.TryGetValue(Key(blobs[i]), out LoadedMessage? cached) && cached is not null)
            {
                result[i] = cached;
                continue;
            }
            if (blobs[i].Size > MessageIntake.SingleCallLimit)
            {
                result[i] = await GetAsync(blobs[i], ct);
                continue;
            }
            if (batch.Count > 0 && batchBytes + blobs[i].Size > BatchBytes)
            {
                await ReadBatchAsync(blobs, batch, result, keep);
                batch.Clear();
                batchBytes = 0;
            }
            batch.Add(i);
            batchBytes += blobs[i].Size;
        }
        if (batch.Count > 0) await ReadBatchAsync(blobs, batch, result, keep);
        return result;
    }

    /// <summary>The most message bytes one batch read carries.</summary>
    public const long BatchBytes = 4L * 1024 * 1024;

    private async Task ReadBatchAsync(IReadOnlyList<BlobRef> blobs, List<int> batch, LoadedMessage?[] result, bool keep)
    {
        var raws = await intake.ReadManyAsync(batch.Select(i => blobs[i]).ToList());
        for (var j = 0; j < batch.Count; j++)
        {
            if (raws[j] is not { } raw) continue;
            var message = new LoadedMessage(raw);
            result[batch[j]] = message;
            if (keep && raw.Length <= maxBytes / 8) _cache.Set(Key(blobs[batch[j]]), message, new MemoryCacheEntryOptions { Size = Math.Max(1, raw.Length) });
        }
    }

    /// <summary>
    /// Part of a message's bytes: from the cache when the whole message is there, otherwise only
    /// the range, read and decrypted on a silo (a partial FETCH of a 40 MB message costs the chunks
    /// it covers, not the message). Null when the message is gone.
    /// </summary>
    public async Task<byte[]?> GetRangeAsync(BlobRef blob, long offset, int count)
    {
        if (_cache.TryGetValue(Key(blob), out LoadedMessage? cached) && cached is not null)
        {
            var start = (int)Math.Min(offset, cached.Raw.Length);
            return cached.Raw.AsSpan(start, Math.Min(count, cached.Raw.Length - start)).ToArray();
        }
        return await intake.ReadRangeAsync(blob, offset, count);
    }

    private static string Key(BlobRef blob) => blob.Domain + "/" + Convert.ToHexString(blob.Hash);

    public void Dispose() => _cache.Dispose();
}
