using System.Collections.Concurrent;
using System.Diagnostics;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace GrainMail.Chaos;

/// <summary>
/// A mail client of the region that goes dark: every half second it logs in through a gateway
/// and opens its INBOX (account grain, mailbox grain), recording success and failure times.
/// </summary>
internal sealed class ImapProbe(List<(int Smtp, int Imap)> gateways, string account, Stopwatch clock)
{
    public ConcurrentQueue<Attempt> Attempts { get; } = new();

    public async Task RunAsync(CancellationToken stop)
    {
        var n = 0;
        while (!stop.IsCancellationRequested)
        {
            var started = clock.Elapsed;
            try
            {
                using var client = new ImapClient { Timeout = 10_000 };
                await client.ConnectAsync("127.0.0.1", gateways[n++ % gateways.Count].Imap, SecureSocketOptions.None, stop);
                await client.AuthenticateAsync(account, DrillOptions.Password, stop);
                await client.Inbox.OpenAsync(FolderAccess.ReadOnly, stop);
                await client.DisconnectAsync(true, stop);
                Attempts.Enqueue(new Attempt(started, clock.Elapsed, true));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                Attempts.Enqueue(new Attempt(started, clock.Elapsed, false));
            }
            try
            {
                await Task.Delay(500, stop); // probe pacing: one login-and-select every half second
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
