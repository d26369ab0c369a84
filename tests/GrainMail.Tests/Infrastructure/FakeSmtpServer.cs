using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>A message as a remote server received it.</summary>
public sealed record ReceivedMessage(string Helo, string From, IReadOnlyList<string> To, byte[] Data);

/// <summary>
/// A remote SMTP server on loopback for outbound tests: answers each RCPT as <see cref="RcptReply"/>
/// says (by recipient and attempt), can refuse connections, and records what it accepted.
/// </summary>
public sealed class FakeSmtpServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2? _tls;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<ReceivedMessage> Received { get; } = new();

    /// <summary>(recipient, how many times it was offered before) → reply line; default 250.</summary>
    public Func<string, int, string> RcptReply { get; set; } = (_, _) => "250 2.1.5 OK";

    public int Connections;

    /// <summary>While set, connections are accepted and then left without a greeting (a server that hangs).</summary>
    public volatile bool Hang;

    /// <summary>Takes the message, then never answers the final dot (the DATA-ack window).</summary>
    public volatile bool HangAfterData;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How long the reply to the final dot takes, by the message's recipients; none by default.</summary>
    public Func<IReadOnlyList<string>, TimeSpan?> FinalReplyDelay { get; set; } = _ => null;

    /// <summary>Offer REQUIRETLS (RFC 8689) once TLS is up.</summary>
    public bool OfferRequireTls { get; set; }

    /// <summary>Offer DSN (RFC 3461) in the EHLO answer.</summary>
    public bool OfferDsn { get; set; }

    /// <summary>Every MAIL command as received.</summary>
    public ConcurrentQueue<string> MailCommands { get; } = new();

    /// <summary>Every RCPT command as received.</summary>
    public ConcurrentQueue<string> RcptCommands { get; } = new();

    /// <summary>Records whether each accepted message came over TLS.</summary>
    public ConcurrentQueue<bool> ReceivedOverTls { get; } = new();

    public FakeSmtpServer(IPAddress? address = null, int port = 0, System.Security.Cryptography.X509Certificates.X509Certificate2? tls = null)
    {
        _listener = new TcpListener(address ?? IPAddress.Loopback, port);
        _tls = tls;
        _listener.Start();
        _ = Task.Run(AcceptAsync);
    }

    public int Attempts(string recipient) => _attempts.GetValueOrDefault(recipient);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.Increment(ref Connections);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        Stream stream = client.GetStream();
        var reader = new StreamReader(stream, Encoding.Latin1);
        var secure = false;
        async Task Say(string s) => await stream.WriteAsync(Encoding.ASCII.GetBytes(s + "\r\n"));
        try
        {
            if (Hang)
            {
                while (await reader.ReadLineAsync() is not null)
                {
                }
                return;
            }
            await Say("220 fake.remote.test ESMTP");
            string helo = "", from = "";
            var to = new List<string>();
            while (await reader.ReadLineAsync() is { } line)
            {
                var verb = line.Split(' ')[0].ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        helo = line[5..];
                        await Say("250-fake.remote.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n" + (_tls is not null && !secure ? "250-STARTTLS\r\n" : "") + (secure && OfferRequireTls ? "250-REQUIRETLS\r\n" : "") + (OfferDsn ? "250-DSN\r\n" : "") + "250 SIZE 100000000");
                        break;
                    case "MAIL":
                        MailCommands.Enqueue(line);
                        from = Path(line);
                        to.Clear();
                        await Say("250 2.1.0 OK");
                        break;
                    case "RCPT":
                        {
                            RcptCommands.Enqueue(line);
                            var rcpt = Path(line);
                            var n = _attempts.AddOrUpdate(rcpt, 1, (_, v) => v + 1);
                            var reply = RcptReply(rcpt, n - 1);
                            if (reply.StartsWith('2')) to.Add(rcpt);
                            await Say(reply);
                            break;
                        }
                    case "DATA":
                        if (to.Count == 0)
                        {
                            await Say("554 5.5.1 No valid recipients");
                            break;
                        }
                        await Say("354 go ahead");
                        var data = new StringBuilder();
                        while (await reader.ReadLineAsync() is { } d && d != ".")
                            data.Append(d.StartsWith('.') ? d[1..] : d).Append("\r\n");
                        Received.Enqueue(new ReceivedMessage(helo, from, [.. to], Encoding.Latin1.GetBytes(data.ToString())));
                        ReceivedOverTls.Enqueue(secure);
                        if (HangAfterData)
                        {
                            // Keep the connection open and silent until the client goes away.
                            while (await reader.ReadLineAsync() is not null)
                            {
                            }
                            return;
                        }
                        // A remote that filters the message before it answers the final dot.
                        if (FinalReplyDelay(to) is { } delay && delay > TimeSpan.Zero) await Task.Delay(delay);
                        await Say("250 2.0.0 queued");
                        break;
                    case "STARTTLS" when _tls is not null && !secure:
                        {
                            await Say("220 2.0.0 go ahead");
                            var ssl = new System.Net.Security.SslStream(stream);
                            await ssl.AuthenticateAsServerAsync(_tls);
                            stream = ssl;
                            reader = new StreamReader(stream, Encoding.Latin1);
                            secure = true;
                            break;
                        }
                    case "RSET":
                        to.Clear();
                        await Say("250 OK");
                        break;
                    case "QUIT":
                        await Say("221 bye");
                        return;
                    default:
                        await Say("502 5.5.2 not implemented");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
        }
    }

    private static string Path(string line)
    {
        var a = line.IndexOf('<');
        var b = line.IndexOf('>');
        return a >= 0 && b > a ? line[(a + 1)..b] : "";
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
