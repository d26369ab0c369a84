using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Trust.Viruses;

/// <summary>
/// Scans message bytes with clamd over INSTREAM on pooled connections.
///
/// Why sessions: clamd answers one command per connection and then closes it, unless the connection
/// starts with IDSESSION (clamd(8)); inside a session any number of INSTREAMs may follow, each answered
/// with "&lt;n&gt;: stream: …" where n counts the session's requests from 1. We keep one request in flight
/// per connection (clamd wants every reply read before the next command) and return the connection to
/// the pool after its reply. clamd ends a session on any error (INSTREAM over StreamMaxLength included:
/// it answers "size limit exceeded" and closes) and after IdleTimeout without a command; so an error
/// discards the connection, an idle one is closed by us before clamd's limit, and a pooled connection
/// that turns out dead is replaced once by a fresh one.
///
/// The stream: "zINSTREAM\0", then chunks of a 4-byte big-endian length and that many bytes, then a
/// zero length. At most <see cref="ClamdOptions.StreamMaxLength"/> bytes are sent.
/// </summary>
public sealed class ClamdClient : IAsyncDisposable
{
    private const int ChunkSize = 64 * 1024;

    private readonly ClamdEndpoint _endpoint;
    private readonly ClamdOptions _options;
    private readonly TimeProvider _clock;
    private readonly ConcurrentBag<Session> _idle = [];
    private readonly SemaphoreSlim _slots;

    public ClamdClient(ClamdOptions options, TimeProvider clock)
    {
        if (!ClamdEndpoint.TryParse(options.Endpoint ?? "", out var endpoint, out var problem)) throw new ArgumentException(problem, nameof(options));
        _endpoint = endpoint!;
        _options = options;
        _clock = clock;
        _slots = new SemaphoreSlim(options.MaxConnections);
    }

    public ClamdEndpoint Endpoint => _endpoint;

    /// <summary>Pieces of the message, in order; <paramref name="length"/> is its whole length.</summary>
    public async Task<VirusScanResult> ScanAsync(Func<int, CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> content, long length, CancellationToken ct = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await _slots.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return VirusScanResult.Unavailable($"no clamd connection free within {_options.Timeout.TotalSeconds:0.#} s");
        }
        try
        {
            // A pooled session may have been closed by clamd meanwhile: one more try on a fresh one.
            for (var attempt = 0; ; attempt++)
            {
                var (session, reused) = await TakeAsync(timeout.Token);
                try
                {
                    var result = await session.ScanAsync(content, Math.Min(length, _options.StreamMaxLength), timeout.Token);
                    if (result.Verdict == ScanVerdict.Unavailable) session.Dispose();
                    else Return(session);
                    return result;
                }
                catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
                {
                    session.Dispose();
                    if (reused && attempt == 0) continue;
                    throw;
                }
                catch
                {
                    session.Dispose();
                    throw;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return VirusScanResult.Unavailable($"clamd at {_endpoint} did not answer within {_options.Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or ObjectDisposedException)
        {
            return VirusScanResult.Unavailable(timeout.IsCancellationRequested && !ct.IsCancellationRequested
                ? $"clamd at {_endpoint} did not answer within {_options.Timeout.TotalSeconds:0.#} s"
                : $"clamd at {_endpoint}: {e.Message}");
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<(Session Session, bool Reused)> TakeAsync(CancellationToken ct)
    {
        var now = _clock.GetUtcNow();
        while (_idle.TryTake(out var pooled))
        {
            if (now - pooled.LastUsed < _options.IdleTimeout) return (pooled, true);
            pooled.Dispose();
        }
        var socket = await _endpoint.ConnectAsync(ct);
        var session = new Session(socket, _clock);
        try
        {
            await session.StartAsync(ct);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        return (session, false);
    }

    private void Return(Session session)
    {
        if (_idle.Count < _options.MaxConnections) _idle.Add(session);
        else session.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        while (_idle.TryTake(out var s)) s.Dispose();
        _slots.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>One IDSESSION connection; one request at a time.</summary>
    private sealed class Session(Socket socket, TimeProvider clock) : IDisposable
    {
        private static readonly byte[] IdSession = "zIDSESSION\0"u8.ToArray();
        private static readonly byte[] InStream = "zINSTREAM\0"u8.ToArray();
        private readonly NetworkStream _stream = new(socket, ownsSocket: true);
        private readonly byte[] _length = new byte[4];
        private int _requests;

        public DateTimeOffset LastUsed { get; private set; } = clock.GetUtcNow();

        public async Task StartAsync(CancellationToken ct) => await _stream.WriteAsync(IdSession, ct);

        public async Task<VirusScanResult> ScanAsync(Func<int, CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> content, long limit, CancellationToken ct)
        {
            var id = ++_requests;
            await using (ct.Register(() => socket.Dispose()))
            {
                await _stream.WriteAsync(InStream, ct);
                long sent = 0;
                await foreach (var piece in content(ChunkSize, ct))
                {
                    if (sent >= limit) break;
                    var part = piece.Length <= limit - sent ? piece : piece[..(int)(limit - sent)];
                    BinaryPrimitives.WriteUInt32BigEndian(_length, (uint)part.Length);
                    await _stream.WriteAsync(_length, ct);
                    await _stream.WriteAsync(part, ct);
                    sent += part.Length;
                }
                BinaryPrimitives.WriteUInt32BigEndian(_length, 0);
                await _stream.WriteAsync(_length, ct);
                var reply = await ReadReplyAsync(ct);
                LastUsed = clock.GetUtcNow();
                return ClamdReply.Parse(reply, id, sent);
            }
        }

        /// <summary>Up to the NUL that ends a z-command's reply.</summary>
        private async Task<string> ReadReplyAsync(CancellationToken ct)
        {
            var buffer = new List<byte>(64);
            var one = new byte[1];
            while (true)
            {
                var n = await _stream.ReadAsync(one.AsMemory(0, 1), ct);
                if (n == 0) throw new EndOfStreamException("clamd closed the connection");
                if (one[0] == 0) return Encoding.ASCII.GetString(buffer.ToArray());
                if (buffer.Count >= 4096) throw new IOException("clamd's reply is too long");
                buffer.Add(one[0]);
            }
        }

        public void Dispose() => _stream.Dispose();
    }
}
