using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using GrainMail.Trust.Viruses;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>clamd's replies and endpoints parsed, and the client's session pool against a scripted clamd.</summary>
public sealed class ClamdTests
{
    [Theory]
    [InlineData("stream: OK", null, ScanVerdict.Clean, null)]
    [InlineData("stream: Eicar-Test-Signature FOUND", null, ScanVerdict.Infected, "Eicar-Test-Signature")]
    [InlineData("3: stream: OK", 3, ScanVerdict.Clean, null)]
    [InlineData("3: stream: Win.Test.EICAR_HDB-1 FOUND", 3, ScanVerdict.Infected, "Win.Test.EICAR_HDB-1")]
    [InlineData("2: stream: OK", 3, ScanVerdict.Unavailable, null)] // someone else's answer
    [InlineData("stream: OK", 1, ScanVerdict.Unavailable, null)] // no request number inside a session
    [InlineData("1: INSTREAM size limit exceeded. ERROR", 1, ScanVerdict.Unavailable, null)]
    [InlineData("UNKNOWN COMMAND", null, ScanVerdict.Unavailable, null)]
    [InlineData("stream:  FOUND", null, ScanVerdict.Unavailable, null)]
    [InlineData("", null, ScanVerdict.Unavailable, null)]
    public void Replies_map_to_verdicts(string reply, int? id, ScanVerdict verdict, string? signature)
    {
        var result = ClamdReply.Parse(reply, id, 10);
        Assert.Equal(verdict, result.Verdict);
        Assert.Equal(signature, result.Signature);
        if (verdict == ScanVerdict.Unavailable) Assert.NotNull(result.Problem);
    }

    [Fact]
    public void A_signature_name_reaches_the_smtp_reply_only_as_bounded_printable_ascii()
    {
        var result = ClamdReply.Parse("stream: Bad\r\nName\u00e9" + new string('x', 500) + " FOUND", null, 1);
        Assert.Equal(ScanVerdict.Infected, result.Verdict);
        Assert.True(result.Signature!.Length <= ClamdReply.MaxSignatureLength);
        Assert.All(result.Signature, c => Assert.InRange(c, ' ', '~'));
    }

    [Theory]
    [InlineData("127.0.0.1:3310", "127.0.0.1", 3310, null)]
    [InlineData("clamd.internal:3310", "clamd.internal", 3310, null)]
    [InlineData("[::1]:3310", "::1", 3310, null)]
    [InlineData("unix:/run/clamav/clamd.ctl", null, 0, "/run/clamav/clamd.ctl")]
    public void Endpoints_parse(string text, string? host, int port, string? path)
    {
        Assert.True(ClamdEndpoint.TryParse(text, out var e, out _));
        Assert.Equal(new ClamdEndpoint(host, port, path), e);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("localhost:0")]
    [InlineData("localhost:70000")]
    [InlineData(":3310")]
    [InlineData("unix:")]
    [InlineData("unix:relative/path")]
    [InlineData("::1:3310")]
    public void Bad_endpoints_are_refused_with_a_reason(string text)
    {
        Assert.False(ClamdEndpoint.TryParse(text, out _, out var problem));
        Assert.False(string.IsNullOrEmpty(problem));
        Assert.NotEmpty(new ClamdOptions { Endpoint = text }.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(new object())));
    }

    [Fact]
    public void Fuzzed_replies_never_throw()
    {
        var random = new Random(8617);
        var seeds = new[] { "1: stream: OK", "2: stream: Eicar FOUND", "INSTREAM size limit exceeded. ERROR" };
        for (var i = 0; i < 3000; i++)
        {
            var bytes = i % 2 == 0 ? Fuzz.RandomBytes(random, 80) : Fuzz.Mutate(random, Encoding.ASCII.GetBytes(seeds[random.Next(seeds.Length)]));
            var result = ClamdReply.Parse(Encoding.Latin1.GetString(bytes), random.Next(3) == 0 ? null : random.Next(1, 4), 0);
            Assert.True(result.Verdict != ScanVerdict.Infected || result.Signature is { Length: > 0 });
        }
    }

    [Fact]
    public async Task Scans_share_one_idsession_connection_and_never_send_more_than_the_stream_limit()
    {
        await using var clamd = new ScriptedClamd();
        await using var client = new ClamdClient(new ClamdOptions { Endpoint = clamd.Endpoint, StreamMaxLength = 100_000 }, TimeProvider.System);
        var clean = await client.ScanAsync(Content(new byte[1000]), 1000);
        Assert.Equal(ScanVerdict.Clean, clean.Verdict);
        var infected = await client.ScanAsync(Content(Encoding.ASCII.GetBytes("xx VIRUS xx")), 11);
        Assert.Equal("Test.Virus", infected.Signature);
        var big = new byte[250_000];
        var partial = await client.ScanAsync(Content(big), big.Length);
        Assert.Equal(ScanVerdict.Clean, partial.Verdict);
        Assert.Equal(100_000, partial.ScannedBytes);
        Assert.Equal(1, clamd.Connections);
        Assert.Equal([1000, 11, 100_000], clamd.StreamLengths);
    }

    [Fact]
    public async Task A_pooled_session_that_clamd_closed_is_replaced_by_a_fresh_one()
    {
        await using var clamd = new ScriptedClamd { RequestsPerSession = 1 };
        await using var client = new ClamdClient(new ClamdOptions { Endpoint = clamd.Endpoint }, TimeProvider.System);
        for (var i = 0; i < 3; i++) Assert.Equal(ScanVerdict.Clean, (await client.ScanAsync(Content(new byte[10]), 10)).Verdict);
        Assert.Equal(3, clamd.Connections);
    }

    [Fact]
    public async Task No_answer_in_time_or_nobody_listening_is_unavailable_not_an_exception()
    {
        await using (var silent = new ScriptedClamd { Silent = true })
        await using (var client = new ClamdClient(new ClamdOptions { Endpoint = silent.Endpoint, Timeout = TimeSpan.FromMilliseconds(300) }, TimeProvider.System))
        {
            var result = await client.ScanAsync(Content(new byte[10]), 10);
            Assert.Equal(ScanVerdict.Unavailable, result.Verdict);
            Assert.Contains("did not answer", result.Problem);
        }
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await using var nobody = new ClamdClient(new ClamdOptions { Endpoint = $"127.0.0.1:{port}" }, TimeProvider.System);
        Assert.Equal(ScanVerdict.Unavailable, (await nobody.ScanAsync(Content(new byte[10]), 10)).Verdict);
    }

    private static Func<int, CancellationToken, IAsyncEnumerable<ReadOnlyMemory<byte>>> Content(byte[] bytes) => (size, _) => Pieces(bytes, size);

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Pieces(byte[] bytes, int size)
    {
        await Task.Yield();
        for (var o = 0; o < bytes.Length; o += size) yield return bytes.AsMemory(o, Math.Min(size, bytes.Length - o));
    }

    /// <summary>
    /// clamd's side of IDSESSION/INSTREAM as clamd(8) describes it: numbered replies, "VIRUS" in the
    /// stream is a find; it can end each session after some requests, or never answer.
    /// </summary>
    private sealed class ScriptedClamd : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private int _connections;

        public ScriptedClamd()
        {
            _listener.Start();
            _accepting = AcceptAsync();
        }

        public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        public int RequestsPerSession { get; init; } = int.MaxValue;

        public bool Silent { get; init; }

        public int Connections => _connections;

        public List<int> StreamLengths { get; } = [];

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                Interlocked.Increment(ref _connections);
                _ = Task.Run(() => ServeAsync(socket));
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using var _ = socket;
            await using var stream = new NetworkStream(socket);
            try
            {
                Assert.Equal("zIDSESSION", await ReadCommandAsync(stream));
                for (var id = 1; id <= RequestsPerSession; id++)
                {
                    Assert.Equal("zINSTREAM", await ReadCommandAsync(stream));
                    var data = new MemoryStream();
                    var length = new byte[4];
                    while (true)
                    {
                        await stream.ReadExactlyAsync(length, _stop.Token);
                        var n = BinaryPrimitives.ReadInt32BigEndian(length);
                        if (n == 0) break;
                        var chunk = new byte[n];
                        await stream.ReadExactlyAsync(chunk, _stop.Token);
                        data.Write(chunk);
                    }
                    lock (StreamLengths) StreamLengths.Add((int)data.Length);
                    if (Silent)
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                    }
                    var verdict = Encoding.ASCII.GetString(data.ToArray()).Contains("VIRUS", StringComparison.Ordinal) ? "Test.Virus FOUND" : "OK";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{id}: stream: {verdict}\0"), _stop.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or EndOfStreamException or SocketException)
            {
                // The client went away, or the test ended.
            }
        }

        private async Task<string> ReadCommandAsync(NetworkStream stream)
        {
            var text = new StringBuilder();
            var one = new byte[1];
            while (true)
            {
                await stream.ReadExactlyAsync(one, _stop.Token);
                if (one[0] == 0) return text.ToString();
                text.Append((char)one[0]);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _accepting;
            _stop.Dispose();
        }
    }
}
