using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// What command families need of the connection beyond the response buffer: flushing, reading a
/// bare line (SASL responses, IDLE's DONE) and starting TLS. The session implements it, so the
/// families never see the transport or the command reader.
/// </summary>
internal interface IImapConnection
{
    bool Secure { get; }

    ImapService Service { get; }

    ValueTask FlushAsync(CancellationToken ct);

    Task<(ReadStatus Status, byte[] Line)> ReadLineAsync(CancellationToken ct);

    Task StartTlsAsync(CancellationToken ct);

    /// <summary>Closes the connection from outside the session's own flow (a revoked credential); safe from any thread.</summary>
    void Abort(string reason);
}
