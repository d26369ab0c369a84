using System.Net;
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
}
