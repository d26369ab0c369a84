using System.Net;
using GrainMail.Gateways.Common.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Common;

/// <summary>What every mail listener does around its protocol session: admission and TLS.</summary>
public static class GatewayConnection
{
    /// <summary>How long a refused client on an implicit-TLS port gets to finish its handshake.</summary>
    private static readonly TimeSpan RefusalHandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Admits a connection under <paramref name="limiter"/> (refusing with the protocol's own
    /// line before any greeting), runs the session, and treats a client that vanishes or fails
    /// its TLS handshake as the normal end it is. On an implicit-TLS listener
    /// (<paramref name="implicitTls"/> set: 465, 993, 995) the client speaks TLS first, so the
    /// refusal goes out after the handshake, over TLS; in clear it would only read as a TLS error.
    /// </summary>
    /// <param name="sessions">Counts the open sessions (with <paramref name="tag"/>) while this one runs.</param>
    public static async Task RunAsync(ConnectionContext connection, ConnectionLimiter limiter, byte[] refusal, string protocol,
        ILogger logger, System.Diagnostics.Metrics.UpDownCounter<long> sessions, KeyValuePair<string, object?> tag, Func<IPAddress, Task> session,
        ServerTls? implicitTls = null)
    {
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        if (!limiter.TryEnter(remote))
        {
            await RefuseAsync(connection, refusal, implicitTls, protocol, remote, logger);
            return;
        }
        sessions.Add(1, tag);
        try
        {
            await session(remote);
        }
        catch (Exception e) when (IsClientGone(e))
        {
            logger.LogDebug("{Protocol} session from {Remote} ended: {Error}", protocol, remote, e.Message);
        }
        finally
        {
            sessions.Add(-1, tag);
            limiter.Leave(remote);
        }
    }

    private static async Task RefuseAsync(ConnectionContext connection, byte[] refusal, ServerTls? implicitTls, string protocol, IPAddress remote, ILogger logger)
    {
        try
        {
            if (implicitTls is null)
            {
                await connection.Transport.Output.WriteAsync(refusal);
                return;
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
            timeout.CancelAfter(RefusalHandshakeTimeout);
            await using var tls = await TlsLayer.StartAsync(new DuplexStream(connection.Transport), implicitTls, timeout.Token);
            await tls.Stream.WriteAsync(refusal, timeout.Token);
            await tls.Stream.FlushAsync(timeout.Token);
            // close_notify, so that the client reads the refusal and then a clean end of the stream.
            await tls.Stream.ShutdownAsync();
        }
        catch (Exception e) when (IsClientGone(e))
        {
            logger.LogDebug("{Protocol} refusal to {Remote} not delivered: {Error}", protocol, remote, e.Message);
        }
        finally
        {
            await connection.Transport.Output.CompleteAsync();
        }
    }

    private static bool IsClientGone(Exception e) => e is IOException or OperationCanceledException or ConnectionResetException
        or ObjectDisposedException or System.Security.Authentication.AuthenticationException;
}
