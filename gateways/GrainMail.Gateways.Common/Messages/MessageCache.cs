using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;

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
/// in bytes: a client that lists a folder and then opens messages reads each from PostgreSQL
/// (and decrypts it) once. Keyed by blob, which is content-addressed, so entries never go stale.
/// The one place the gateways get message bytes from.
/// </summary>
public sealed class MessageCache(BlobStore blobs)
{
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string Key, LoadedMessage Message)>> _map = [];
    private readonly LinkedList<(string Key, LoadedMessage Message)> _lru = new();
    private long _bytes;

    public async Task<LoadedMessage?> GetAsync(BlobRef blob, CancellationToken ct = default)
    {
        var key = blob.Domain + "/" + Convert.ToHexString(blob.Hash);
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                return node.Value.Message;
            }
        }
        var raw = await blobs.ReadAsync(blob.Domain, blob.Hash, ct);
        if (raw is null) return null;
        var message = new LoadedMessage(raw);
        if (raw.Length > MaxBytes / 8) return message;
        lock (_lock)
        {
            if (_map.ContainsKey(key)) return message;
            _map[key] = _lru.AddFirst((key, message));
            _bytes += raw.Length;
            while (_bytes > MaxBytes && _lru.Last is { } last)
            {
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
                _bytes -= last.Value.Message.Raw.Length;
            }
        }
        return message;
    }
}
