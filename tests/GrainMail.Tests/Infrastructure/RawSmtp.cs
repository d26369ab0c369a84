using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>A raw SMTP client for transcript tests: exact bytes out, replies (multi-line) in.</summary>
public sealed class RawSmtp : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private readonly List<byte> _pending = [];

    private RawSmtp(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    /// <param name="from">A loopback source address to connect from (127.0.0.2, ...), as a distinct client would.</param>
    public static async Task<(RawSmtp Client, string Greeting)> ConnectAsync(int port, bool implicitTls = false, System.Net.IPAddress? from = null)
    {
        var tcp = from is null ? new TcpClient() : new TcpClient(new System.Net.IPEndPoint(from, 0));
        await tcp.ConnectAsync("127.0.0.1", port);
        Stream stream = tcp.GetStream();
        var client = new RawSmtp(tcp, stream);
        if (implicitTls) await client.UpgradeAsync();
        return (client, await client.ReadReplyAsync());
    }

    public async Task UpgradeAsync()
    {
        var ssl = new SslStream(_stream, false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("mx.grainmail.test");
        _stream = ssl;
    }

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends one command line and returns the reply.</summary>
    public async Task<string> CommandAsync(string line)
    {
        await SendRawAsync(line + "\r\n");
        return await ReadReplyAsync();
    }

    /// <summary>The next complete reply, all lines joined with \n; "" when the server closed.</summary>
    public async Task<string> ReadReplyAsync()
    {
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null) return string.Join("\n", lines);
            lines.Add(line);
            if (line.Length < 4 || line[3] == ' ') return string.Join("\n", lines);
        }
    }

    private async Task<string?> ReadLineAsync()
    {
        var buf = new byte[1];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var nl = _pending.IndexOf((byte)'\n');
            if (nl >= 0)
            {
                var line = Encoding.UTF8.GetString(_pending.GetRange(0, nl).ToArray()).TrimEnd('\r');
                _pending.RemoveRange(0, nl + 1);
                return line;
            }
            var n = await _stream.ReadAsync(buf, timeout.Token);
            if (n == 0) return null;
            _pending.Add(buf[0]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
