using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;

namespace GrainMail.Chaos;

/// <summary>
/// Reads every recipient's INBOX over IMAP and counts each drill Message-ID: an acknowledged
/// message not there is lost, one there twice is duplicated. Waits for the delivery queues to
/// drain (up to a limit) before counting a message as lost.
/// </summary>
internal static class Verify
{
    public static async Task<(int Lost, int Duplicated)> RunAsync((int Smtp, int Imap) gateway, IEnumerable<Ack> acks, TimeSpan limit, Action<string> say)
    {
        var expected = acks.ToList();
        var recipients = expected.Select(a => a.Recipient).Distinct(StringComparer.Ordinal).ToList();
        var deadline = DateTime.UtcNow + limit;
        Dictionary<(string, string), int> seen = [];
        while (true)
        {
            seen = [];
            foreach (var rcpt in recipients)
            {
                try
                {
                    using var client = new ImapClient { Timeout = 30_000 };
                    await client.ConnectAsync("127.0.0.1", gateway.Imap, SecureSocketOptions.None);
                    await client.AuthenticateAsync(rcpt, DrillOptions.Password);
                    await client.Inbox.OpenAsync(FolderAccess.ReadOnly);
                    if (client.Inbox.Count > 0)
                    {
                        foreach (var summary in await client.Inbox.FetchAsync(0, -1, MessageSummaryItems.Envelope))
                        {
                            var id = summary.Envelope?.MessageId;
                            if (id is null) continue;
                            seen[(rcpt, id)] = seen.GetValueOrDefault((rcpt, id)) + 1;
                        }
                    }
                    await client.DisconnectAsync(true);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    say($"reading {rcpt} failed ({e.GetType().Name}: {e.Message}); again");
                }
            }
            var missing = expected.Count(a => !seen.ContainsKey((a.Recipient, a.MessageId)));
            if (missing == 0 || DateTime.UtcNow > deadline)
            {
                var duplicated = seen.Count(kv => kv.Value > 1);
                if (missing > 0)
                {
                    foreach (var a in expected.Where(a => !seen.ContainsKey((a.Recipient, a.MessageId))).Take(10))
                        say($"lost: {a.MessageId} to {a.Recipient}");
                }
                foreach (var kv in seen.Where(kv => kv.Value > 1).Take(10)) say($"duplicated: {kv.Key.Item2} to {kv.Key.Item1} ({kv.Value}×)");
                return (missing, duplicated);
            }
            say($"{missing} acknowledged messages not readable yet; waiting for delivery");
            await Task.Delay(2000);
        }
    }
}
