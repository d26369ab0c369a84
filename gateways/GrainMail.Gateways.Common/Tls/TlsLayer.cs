using System.IO.Pipelines;
using System.Net.Security;

namespace GrainMail.Gateways.Common.Tls;

/// <summary>
/// TLS over a connection, for STARTTLS/STLS and the implicit-TLS ports alike: the SslStream for
/// writing and a PipeReader over it for the protocol readers. Disposing completes the reader
/// before the stream goes, so that no read is left pending on a disposed SslStream.
/// </summary>
public sealed class TlsLayer : IAsyncDisposable
{
    private TlsLayer(SslStream stream)
    {
        Stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
    }

    public SslStream Stream { get; }

    public PipeReader Input { get; }

    /// <summary>Server side of the handshake: TLS 1.2 or 1.3, 30 seconds at most.</summary>
    public static async Task<TlsLayer> StartAsync(Stream inner, ServerTls tls, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: true);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            // The certificate is picked once the ClientHello names the server (SNI), per domain.
            await ssl.AuthenticateAsServerAsync(
                (_, hello, _, _) => ValueTask.FromResult(tls.OptionsFor(hello.ServerName)), null, timeout.Token);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
        return new TlsLayer(ssl);
    }

    public async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync();
        await Stream.DisposeAsync();
    }
}
