using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A plain HTTP listener on loopback that records every request line it gets and answers each with
/// a 1x1 GIF: hostile mails point their remote loads at it, so "nothing was fetched" is something
/// a test can check, and an allowed remote image proves the recorder would have seen one.
/// </summary>
public sealed class RequestRecorder : IAsyncDisposable
{
    private static readonly byte[] Gif = Convert.FromBase64String("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7");
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RequestRecorder()
    {
        _listener.Start();
        _loop = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path.TrimStart('/')}";

    /// <summary>Request lines seen so far ("GET /x HTTP/1.1").</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    private async Task AcceptLoop()
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
            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
                var line = await reader.ReadLineAsync(_stop.Token);
                if (line is null) return;
                Requests.Enqueue(line);
                while (await reader.ReadLineAsync(_stop.Token) is { Length: > 0 })
                {
                    // headers: not needed
                }
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {Gif.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(head, _stop.Token);
                await stream.WriteAsync(Gif, _stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
            {
                // a client that went away
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
