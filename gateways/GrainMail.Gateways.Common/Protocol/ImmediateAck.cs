using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace GrainMail.Gateways.Common.Protocol;

/// <summary>
/// Acknowledges what a connection has received at once instead of after the kernel's delayed-ACK
/// timer (40 ms on Linux). Needed where a client writes the last part of a command in two pieces:
/// many IMAP clients send a literal and then, in a second small write, the CRLF that ends the
/// command. With Nagle's algorithm on the client that second write waits for the ACK of the
/// first, and the server, waiting for the CRLF, sends nothing to carry one: every such command
/// stalled for the whole timer (APPEND took 45 ms more than its work). TCP_QUICKACK with an ACK
/// pending sends it now; it changes nothing about what is sent or when data counts as received.
/// </summary>
public static class ImmediateAck
{
    // <netinet/tcp.h>: IPPROTO_TCP and TCP_QUICKACK (Linux only; elsewhere this does nothing).
    private const int IpProtoTcp = 6;
    private const int TcpQuickAck = 12;

    /// <summary>An action that acknowledges now on <paramref name="connection"/>'s socket; null when there is none to reach.</summary>
    public static Action? For(ConnectionContext connection)
    {
        if (!OperatingSystem.IsLinux()) return null;
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is null || socket.ProtocolType != ProtocolType.Tcp) return null;
        return () => Send(socket);
    }

    private static void Send(Socket socket)
    {
        try
        {
            socket.SetRawSocketOption(IpProtoTcp, TcpQuickAck, [1, 0, 0, 0]);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The connection is closing; there is nothing left to acknowledge.
        }
    }
}
