using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Common;

/// <summary>What every mail listener does around its protocol session: admission and TLS.</summary>
public static class GatewayConnection
{
    /// <summary>
    /// Admits a connection under <paramref name="limiter"/> (refusing with the protocol's own
    /// line, in plain text, before any TLS or greeting), runs the session, and treats a client
    /// that vanishes or fails its TLS handshake as the normal end it is.
    /// </summary>
    /// <param name="sessions">Counts the open sessions (with <paramref name="tag"/>) while this one runs.</param>
    public static async Task RunAsync(ConnectionContext connection, ConnectionLimiter limiter, byte[] refusal, string protocol,
        ILogger logger, System.Diagnostics.Metrics.UpDownCounter<long> sessions, KeyValuePair<string, object?> tag, Func<IPAddress, Task> session)
    {
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        if (!limiter.TryEnter(remote))
        {
            await connection.Transport.Output.WriteAsync(refusal);
            await connection.Transport.Output.CompleteAsync();
            return;
        }
        sessions.Add(1, tag);
        try
        {
            await session(remote);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ConnectionResetException
            or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            logger.LogDebug("{Protocol} session from {Remote} ended: {Error}", protocol, remote, e.Message);
        }
        finally
        {
            sessions.Add(-1, tag);
            limiter.Leave(remote);
        }
    }

    /// <summary>Server side of STARTTLS or implicit TLS: TLS 1.2/1.3, 30 s for the handshake.</summary>
    public static async Task<SslStream> StartTlsAsync(Stream inner, ServerTls tls, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: true);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
        {
            ServerCertificate = tls.Certificate,
            EnabledSslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
            ClientCertificateRequired = false,
        }, timeout.Token);
        return ssl;
    }
}
