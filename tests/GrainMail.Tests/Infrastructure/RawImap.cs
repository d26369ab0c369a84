using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A raw line client for IMAP and POP3 transcript tests: exact bytes out; responses in, with
/// IMAP literals in responses read by their octet count.
/// </summary>
public sealed partial class RawImap : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private Stream _stream;
    private readonly List<byte> _pending = [];
    private int _tag;

    private RawImap(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    public static async Task<(RawImap Client, string Greeting)> ConnectAsync(int port, bool implicitTls = false)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var client = new RawImap(tcp, tcp.GetStream());
        if (implicitTls) await client.UpgradeAsync();
        return (client, await client.ReadLineAsync() ?? "");
    }

    public async Task UpgradeAsync()
    {
        var ssl = new SslStream(_stream, false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync("imap.grainmail.test");
        _stream = ssl;
    }

    /// <summary>Connects over implicit TLS and logs in.</summary>
    public static async Task<RawImap> LoginAsync(int imapsPort, string user, string password)
    {
        var (c, _) = await ConnectAsync(imapsPort, implicitTls: true);
        var r = await c.CommandAsync($"LOGIN \"{user}\" \"{password}\"");
        if (!r.Ok) throw new InvalidOperationException("login failed: " + r.Text);
        return c;
    }

    /// <summary>
    /// A new account of the host's domain (its local part starts with <paramref name="prefix"/>),
    /// logged in over implicit TLS: the start of most IMAP tests.
    /// </summary>
    public static async Task<(RawImap C, string User)> NewUserAsync(SmtpHostFixture host, string prefix)
    {
        var local = prefix + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        return (await LoginAsync(host.Imaps, user, SmtpHostFixture.Password), user);
    }

    /// <summary>APPEND with a non-synchronizing literal (RFC 7888); <paramref name="extra"/> goes before it (flags, date).</summary>
    public async Task<ImapResponse> AppendAsync(string message, string folder = "INBOX", string extra = "")
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var tag = NextTag();
        await SendRawAsync($"{tag} APPEND {folder} {extra}{{{bytes.Length}+}}\r\n");
        await SendRawAsync([.. bytes, .. "\r\n"u8]);
        return await ReadTaggedAsync(tag);
    }

    /// <summary>After the server's OK to COMPRESS DEFLATE (RFC 4978): both directions are raw DEFLATE from here on.</summary>
    public void StartDeflate() => _stream = new GrainMail.Gateways.Imap.Protocol.DeflateDuplexStream(_stream, _stream);

    public Task SendRawAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendRawAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    public string NextTag() => "a" + (++_tag);

    /// <summary>Sends "tag command" and reads up to the tagged response.</summary>
    public async Task<ImapResponse> CommandAsync(string command)
    {
        var tag = NextTag();
        await SendRawAsync(tag + " " + command + "\r\n");
        return await ReadTaggedAsync(tag);
    }

    /// <summary>Reads untagged lines until the line tagged <paramref name="tag"/>.</summary>
    public async Task<ImapResponse> ReadTaggedAsync(string tag)
    {
        var untagged = new List<string>();
        while (true)
        {
            var line = await ReadResponseLineAsync() ?? throw new IOException("connection closed; so far: " + string.Join("\n", untagged));
            if (line.StartsWith(tag + " ", StringComparison.Ordinal)) return new ImapResponse(untagged, line[(tag.Length + 1)..]);
            untagged.Add(line);
        }
    }

    /// <summary>One response line, with any literals it carries inlined (as UTF-8).</summary>
    public async Task<string?> ReadResponseLineAsync()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync();
            if (line is null) return sb.Length == 0 ? null : sb.ToString();
            sb.Append(line);
            var m = LiteralAtEnd().Match(line);
            if (!m.Success) return sb.ToString();
            var n = int.Parse(m.Groups[1].Value);
            sb.Append("\r\n").Append(Encoding.UTF8.GetString(await ReadBytesAsync(n)));
        }
    }

    [GeneratedRegex(@"\{(\d+)\}$")]
    private static partial Regex LiteralAtEnd();

    public async Task<string?> ReadLineAsync()
    {
        var buf = new byte[4096];
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
            var n = await _stream.ReadAsync(buf.AsMemory(0, 1), timeout.Token);
            if (n == 0) return null;
            _pending.Add(buf[0]);
        }
    }

    public async Task<byte[]> ReadBytesAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buf = new byte[1];
        while (_pending.Count < count)
        {
            var n = await _stream.ReadAsync(buf, timeout.Token);
            if (n == 0) throw new IOException("closed in a literal");
            _pending.Add(buf[0]);
        }
        var bytes = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return bytes;
    }

    /// <summary>True when the server has closed the connection (reads end).</summary>
    public async Task<bool> ClosedAsync()
    {
        try
        {
            while (await ReadLineAsync() is not null)
            {
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}

/// <summary>The untagged lines of a command and its tagged completion ("OK ...", "NO ...", "BAD ...").</summary>
public sealed record ImapResponse(List<string> Untagged, string Tagged)
{
    public bool Ok => Tagged.StartsWith("OK", StringComparison.Ordinal);

    public string Text => string.Join("\n", Untagged) + "\n" + Tagged;

    public override string ToString() => Text;
}
