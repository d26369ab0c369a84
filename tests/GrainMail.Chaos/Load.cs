using System.Collections.Concurrent;
using System.Diagnostics;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Chaos;

internal sealed record Ack(long Id, string Recipient, string MessageId);

/// <summary>One try of a client: an SMTP transaction or an IMAP login and SELECT.</summary>
internal sealed record Attempt(TimeSpan Start, TimeSpan End, bool Ok)
{
    /// <summary>IMAP probes: the step that failed or, for a slow success, took longest, with its time and error.</summary>
    public string? Detail { get; init; }

    /// <summary>What a user notices: a failure, or an answer slower than 2 s.</summary>
    public bool Bad => !Ok || End - Start > TimeSpan.FromSeconds(2);
}

/// <summary>
/// Steady SMTP load through the gateways, behaving like a sending MTA: a message that gets a
/// 4xx or a broken connection is sent again (same Message-ID) until a 250 comes back. Every
/// 250 is recorded; those are the messages that must exist exactly once afterwards.
/// </summary>
internal sealed class Load(List<(int Smtp, int Imap)> gateways, List<string> accounts, DrillOptions opts, Stopwatch clock)
{
    private long _sequence;

    public ConcurrentQueue<Ack> Acks { get; } = new();

    /// <summary>Every SMTP transaction tried: when it started, when it ended, whether it got 250.</summary>
    public ConcurrentQueue<Attempt> Attempts { get; } = new();

    public int Acknowledged => Acks.Count;

    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, opts.Senders).Select(i => Task.Run(() => SenderAsync(i, stop))));

    private async Task SenderAsync(int index, CancellationToken stop)
    {
        var random = new Random(index);
        var gateway = index % gateways.Count;
        SmtpClient? client = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var id = Interlocked.Increment(ref _sequence);
                var rcpt = accounts[random.Next(accounts.Count)];
                var message = Build(id, rcpt);
                while (!stop.IsCancellationRequested)
                {
                    var started = clock.Elapsed;
                    try
                    {
                        if (client is not { IsConnected: true })
                        {
                            client?.Dispose();
                            // Long enough for the gateway to learn a broken commit's outcome.
                            client = new SmtpClient { Timeout = 120_000 };
                            await client.ConnectAsync("127.0.0.1", gateways[gateway].Smtp, SecureSocketOptions.None, stop);
                        }
                        // Not cancellable: a transaction is finished either way, so its outcome is known.
                        await client.SendAsync(message, CancellationToken.None);
                        Acks.Enqueue(new Ack(id, rcpt, message.MessageId!));
                        Attempts.Enqueue(new Attempt(started, clock.Elapsed, true));
                        break;
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }
                    catch (Exception e) when (e is SmtpCommandException or SmtpProtocolException or IOException or System.Net.Sockets.SocketException
                                              or TimeoutException or OperationCanceledException or MailKit.ServiceNotConnectedException)
                    {
                        Attempts.Enqueue(new Attempt(started, clock.Elapsed, false));
                        if (client is { IsConnected: false }) gateway = (gateway + 1) % gateways.Count;
                        await Task.Delay(250, CancellationToken.None); // a client's back-off before it tries again
                    }
                }
                await Task.Delay(opts.IntervalMs, CancellationToken.None); // load pacing: one message per interval per client
            }
        }
        finally
        {
            client?.Dispose();
        }
    }

    private static MimeMessage Build(long id, string rcpt)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse("load@sender.example"));
        m.To.Add(MailboxAddress.Parse(rcpt));
        m.Subject = $"drill message {id}";
        m.MessageId = $"drill-{id}@chaos.test";
        m.Body = new TextPart("plain") { Text = $"Message {id} of the two-region failover drill.\r\n" };
        return m;
    }
}
