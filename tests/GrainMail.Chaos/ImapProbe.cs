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
            var gateway = gateways[n++ % gateways.Count].Imap;
            // Each step timed, so that a slow or failed probe says where it waited (which grain call, which gateway).
            var (step, stepStart, slowest, slowestStep) = ("connect", clock.Elapsed, TimeSpan.Zero, "");
            void Next(string name)
            {
                var took = clock.Elapsed - stepStart;
                if (took > slowest) (slowest, slowestStep) = (took, step);
                (step, stepStart) = (name, clock.Elapsed);
            }
            try
            {
                using var client = new ImapClient { Timeout = 10_000 };
                await client.ConnectAsync("127.0.0.1", gateway, SecureSocketOptions.None, stop);
                Next("login");
                await client.AuthenticateAsync(account, DrillOptions.Password, stop);
                Next("select");
                await client.Inbox.OpenAsync(FolderAccess.ReadOnly, stop);
                Next("logout");
                await client.DisconnectAsync(true, stop);
                Next("");
                Attempts.Enqueue(new Attempt(started, clock.Elapsed, true) { Detail = $"gateway :{gateway}, slowest step {slowestStep} {slowest.TotalSeconds:F1} s" });
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Attempts.Enqueue(new Attempt(started, clock.Elapsed, false)
                {
                    Detail = $"gateway :{gateway}, {step} failed after {(clock.Elapsed - stepStart).TotalSeconds:F1} s: {e.GetType().Name}: {e.Message.Split('\n')[0]}",
                });
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
