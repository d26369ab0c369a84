using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace GrainMail.Operations.Spool;

/// <summary>
/// The bytes of a message on their way into the blob store: a head held in memory (trace headers
/// a gateway adds) followed by an optional spooled body. Read in chunks, so a large message is
/// never one array.
/// </summary>
public sealed class MessageContent(ReadOnlyMemory<byte> head, MessageSpool? body = null)
{
    public long Length => head.Length + (body?.Length ?? 0);

    public static implicit operator MessageContent(byte[] bytes) => new(bytes);

    public static implicit operator MessageContent(ReadOnlyMemory<byte> bytes) => new(bytes);

    /// <summary>The same content with <paramref name="prefix"/> (header fields a silo adds) in front; the body is shared, not copied.</summary>
    public MessageContent Prepend(ReadOnlySpan<byte> prefix)
    {
        var joined = new byte[prefix.Length + head.Length];
        prefix.CopyTo(joined);
        head.Span.CopyTo(joined.AsSpan(prefix.Length));
        return new MessageContent(joined, body);
    }

    /// <summary>The content in pieces of at most <paramref name="size"/> bytes, in order.</summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadAsync(int size, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        for (var o = 0; o < head.Length; o += size) yield return head.Slice(o, Math.Min(size, head.Length - o));
        if (body is null) yield break;
        await foreach (var frame in body.ReadAsync(ct))
        {
            for (var o = 0; o < frame.Length; o += size) yield return frame.Slice(o, Math.Min(size, frame.Length - o));
        }
    }

    public async Task<byte[]> HashAsync(CancellationToken ct = default)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await foreach (var piece in ReadAsync(256 * 1024, ct)) sha.AppendData(piece.Span);
        return sha.GetHashAndReset();
    }

    /// <summary>The content as the one array it already is, without a copy: true when it is held in memory whole (no
    /// spooled body) as exactly one array, which the caller must then only read. The MX checks read the message this way
    /// instead of copying it (session 16).</summary>
    public bool TryGetWholeArray([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? array)
    {
        if (body is null && System.Runtime.InteropServices.MemoryMarshal.TryGetArray(head, out var segment)
            && segment.Array is { } whole && segment.Offset == 0 && segment.Count == whole.Length)
        {
            array = whole;
            return true;
        }
        array = null;
        return false;
    }

    /// <summary>All of it as one array: for small messages and tests only.</summary>
    public async Task<byte[]> ToArrayAsync(CancellationToken ct = default)
    {
        var all = new byte[Length];
        var at = 0;
        await foreach (var piece in ReadAsync(256 * 1024, ct))
        {
            piece.Span.CopyTo(all.AsSpan(at));
            at += piece.Length;
        }
        return all;
    }
}

/// <summary>
/// Where a gateway writes a message while receiving it: the first <see cref="MemoryLimit"/> bytes
/// in memory, the rest in an unlinked temporary file (gone with the process, whatever happens),
/// sealed with AES-GCM under a key that exists only in this object — no message is ever on disk
/// in clear, and a session's memory stays bounded whatever the client sends.
/// </summary>
public sealed class MessageSpool : IBufferWriter<byte>, IAsyncDisposable, IDisposable
{
    public const int FrameSize = 64 * 1024;
    private const int TagSize = 16;
    private const int NonceSize = 12;

    private readonly string _directory;
    private readonly List<byte[]> _memoryFrames = [];
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    // Starts small and grows to a frame: most messages are a few KiB.
    private byte[] _frame = new byte[8 * 1024];
    private int _used;
    private long _fileFrames;
    private FileStream? _file;
    private AesGcm? _gcm;
    private long _length;

    public MessageSpool(string directory, int memoryLimit = 1024 * 1024)
    {
        _directory = directory;
        MemoryLimit = memoryLimit;
    }

    public int MemoryLimit { get; }

    public long Length => _length;

    /// <summary>True once part of the message went to the file.</summary>
    public bool Spilled => _file is not null;

    /// <summary>The first bytes (up to the memory limit): enough to read the header section.</summary>
    public ReadOnlyMemory<byte> Head
    {
        get
        {
            if (_memoryFrames.Count == 0) return _frame.AsMemory(0, _used);
            if (_file is null && _used > 0) Seal();
            var all = new byte[_memoryFrames.Sum(f => f.Length)];
            var at = 0;
            foreach (var f in _memoryFrames)
            {
                f.CopyTo(all, at);
                at += f.Length;
            }
            return all;
        }
    }

    public void Advance(int count)
    {
        _used += count;
        _length += count;
        if (_used == FrameSize) Seal();
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint > FrameSize) throw new ArgumentOutOfRangeException(nameof(sizeHint));
        var need = Math.Max(sizeHint, 1);
        if (_frame.Length - _used < need)
        {
            if (_frame.Length < FrameSize)
            {
                Array.Resize(ref _frame, Math.Min(FrameSize, Math.Max(_frame.Length * 2, _used + need)));
            }
            if (_frame.Length - _used < need) Seal();
        }
        return _frame.AsMemory(_used);
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    // Moves the current frame to memory, or (past the memory limit) seals it into the file.
    private void Seal()
    {
        if (_used == 0) return;
        if (_file is null && (_memoryFrames.Count + 1) * (long)FrameSize <= MemoryLimit)
        {
            _memoryFrames.Add(_used == _frame.Length ? _frame : _frame.AsSpan(0, _used).ToArray());
        }
        else
        {
            if (_file is null)
            {
                Directory.CreateDirectory(_directory);
                var path = Path.Combine(_directory, "spool-" + Guid.NewGuid().ToString("N"));
                _file = new FileStream(path, new FileStreamOptions
                {
                    Mode = FileMode.CreateNew,
                    Access = FileAccess.ReadWrite,
                    UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                });
                File.Delete(path); // the open handle keeps it alive; nothing is left behind after a crash
                _gcm = new AesGcm(_key, TagSize);
            }
            Span<byte> header = stackalloc byte[4 + NonceSize];
            var nonce = header[4..];
            BinaryPrimitives.WriteInt64BigEndian(nonce[4..], _fileFrames++);
            BinaryPrimitives.WriteInt32BigEndian(header, _used);
            var cipher = new byte[_used + TagSize];
            _gcm!.Encrypt(nonce, _frame.AsSpan(0, _used), cipher.AsSpan(0, _used), cipher.AsSpan(_used), header[..4]);
            _file.Write(header[..4]);
            _file.Write(cipher);
        }
        _frame = new byte[FrameSize];
        _used = 0;

    }

    /// <summary>The content, frame by frame; call after writing is finished.</summary>
    public async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        if (_file is not null) Seal();
        foreach (var f in _memoryFrames) yield return f;
        if (_file is not null)
        {
            _file.Position = 0;
            var lengthBytes = new byte[4];
            var nonce = new byte[NonceSize];
            for (long i = 0; i < _fileFrames; i++)
            {
                await _file.ReadExactlyAsync(lengthBytes, ct);
                var n = BinaryPrimitives.ReadInt32BigEndian(lengthBytes);
                var cipher = new byte[n + TagSize];
                await _file.ReadExactlyAsync(cipher, ct);
                BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(4), i);
                var plain = new byte[n];
                _gcm!.Decrypt(nonce, cipher.AsSpan(0, n), cipher.AsSpan(n), plain, lengthBytes);
                yield return plain;
            }
            _file.Position = _file.Length;
        }
        else if (_used > 0)
        {
            yield return _frame.AsMemory(0, _used);
        }
    }

    public void Dispose()
    {
        _file?.Dispose();
        _gcm?.Dispose();
        CryptographicOperations.ZeroMemory(_key);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
