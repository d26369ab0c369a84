using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// IDLE (RFC 2177): the session waits for DONE while the selected folder's change notices are
/// turned into untagged responses as they come, so a delivery reaches an idling client at once.
/// </summary>
internal sealed class IdleCommands(ImapSessionContext session)
{
    public async Task<bool> IdleAsync(string tag, CancellationToken ct)
    {
        var output = session.Out;
        var options = session.Options;
        output.Line("+ idling");
        if (session.State == ImapSessionState.Selected) await SyncSelectedAsync(force: true);
        await session.FlushAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.IdleTimeout);
        var read = session.Connection.ReadLineAsync(timeout.Token);
        ReadStatus status;
        byte[] line;
        GrainMail.Operations.GrainMailMeters.ImapIdle.Add(1);
        try
        {
            // One wait on the folder's signal at a time: a second waiter would take a wake-up meant for the first.
            Task? signal = null;
            while (true)
            {
                signal ??= session.Updates.Watcher is { } w && session.State == ImapSessionState.Selected
                    ? w.Signal.WaitAsync(options.WatchRenewal, timeout.Token)
                    : Task.Delay(options.WatchRenewal, timeout.Token);
                // NOTIFY's other mailboxes come in IDLE too (RFC 5465 3). The wake is taken before the
                // look at what is pending, so a notice in between is not missed.
                var notified = session.Notify.Active ? session.Notify.WhenWokenAsync(options.WatchRenewal, timeout.Token) : null;
                if (notified is not null && session.Notify.HasPending(inIdle: true))
                {
                    await session.Notify.WritePendingAsync(inIdle: true);
                    await session.FlushAsync(ct);
                    continue;
                }
                var done = notified is null ? await Task.WhenAny(read, signal) : await Task.WhenAny(read, signal, notified);
                if (done == read) break;
                if (timeout.IsCancellationRequested) break;
                if (done != signal) continue;
                signal = null;
                if (session.State == ImapSessionState.Selected)
                {
                    await SyncSelectedAsync(force: false);
                    if (session.State == ImapSessionState.Logout) return false;
                    await session.FlushAsync(ct);
                }
            }
            (status, line) = await read;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            output.Line("* BYE Autologout; idle for too long");
            return false;
        }
        finally
        {
            GrainMail.Operations.GrainMailMeters.ImapIdle.Add(-1);
        }
        if (status == ReadStatus.Closed) return false;
        if (status != ReadStatus.Command || !System.Text.Encoding.ASCII.GetString(line).Trim().Equals("DONE", StringComparison.OrdinalIgnoreCase))
            return await session.BadAsync(tag, "Expected DONE");
        return session.Ok(tag, "IDLE terminated");
    }

    /// <summary>
    /// The selected folder's news while idling: all of it (RFC 2177), or with NOTIFY in force only what
    /// NOTIFY asked for, since IDLE then sends exactly the events NOTIFY set (RFC 5465 4).
    /// </summary>
    private Task SyncSelectedAsync(bool force) => session.Notify.Active
        ? session.Notify.SyncSelectedInIdleAsync(force)
        : session.Updates.SyncAsync(allowExpunge: true, force: force);
}
