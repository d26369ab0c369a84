using System.IO.Compression;

namespace GrainMail.Gateways.Imap.Protocol;

/// <summary>
/// COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951, no zlib or gzip wrapper) in both
/// directions over the connection's stream (plain or TLS). Every flush ends the compressed
/// block with a sync flush so that the client can read the whole response at once (RFC 4978 4);
/// the session flushes once per response.
/// </summary>
public sealed class DeflateDuplexStream : Stream
{
    private readonly Stream _inner;
    private readonly DeflateStream _inflate;
    private readonly DeflateStream _deflate;

    /// <param name="inner">The connection below (not closed by this stream).</param>
    /// <param name="input">What the client sends, compressed, starting with the first octet after the COMPRESS command.</param>
    public DeflateDuplexStream(Stream inner, Stream input)
    {
        _inner = inner;
        _inflate = new DeflateStream(input, CompressionMode.Decompress, leaveOpen: true);
        // Fastest: IMAP responses are small and frequent; RFC 4978 leaves the level to the server.
        _deflate = new DeflateStream(inner, CompressionLevel.Fastest, leaveOpen: true);
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _inflate.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inflate.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inflate.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => _deflate.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _deflate.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _deflate.WriteAsync(buffer, offset, count, cancellationToken);

    // DeflateStream.Flush writes what it holds and a sync-flush marker: a block boundary the client can decode up to.
    public override void Flush()
    {
        _deflate.Flush();
        _inner.Flush();
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _deflate.FlushAsync(cancellationToken);
        await _inner.FlushAsync(cancellationToken);
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                _deflate.Dispose();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
            {
                // The connection is gone; nothing more can be written.
            }
            _inflate.Dispose();
        }
        base.Dispose(disposing);
    }
}
