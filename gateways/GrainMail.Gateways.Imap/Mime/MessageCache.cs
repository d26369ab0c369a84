using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Intake;

namespace GrainMail.Gateways.Imap.Mime;

/// <summary>A stored message's bytes with its MIME tree, parsed on first use.</summary>
public sealed class LoadedMessage(byte[] raw)
{
    private MimeNode? _root;

    public byte[] Raw => raw;

    public MimeNode Root => _root ??= MimeNode.Parse(raw);

    private MimeKit.MimeMessage? _mime;

    /// <summary>The MimeKit message, for SEARCH over decoded headers and text.</summary>
    public MimeKit.MimeMessage Mime
    {
        get
        {
            if (_mime is null)
            {
                using var stream = new MemoryStream(raw, writable: false);
                _mime = MimeKit.MimeMessage.Load(stream);
            }
            return _mime;
        }
    }
}

/// <summary>
/// Recently read messages, shared by every IMAP and POP3 session of this process and bounded
/// in bytes: a client that lists a folder and then opens messages reads each from PostgreSQL
/// (and decrypts it) once. Keyed by blob, which is content-addressed, so entries never go stale.
/// </summary>
public sealed class MessageCache(MessageIntake blobs)
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
        var raw = await blobs.ReadAsync(blob);
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
