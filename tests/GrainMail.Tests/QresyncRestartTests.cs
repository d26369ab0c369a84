using System.Net.Http.Json;
using System.Text;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>
/// QRESYNC (RFC 7162 3.2.5–3.2.10) across a restart of the whole node: the expunges a client missed
/// come from the stored tombstones, so VANISHED (EARLIER) names exactly the UIDs removed after the
/// client's MODSEQ — not every UID missing below UIDNEXT, which is what a server without them says.
/// </summary>
public sealed class QresyncRestartTests(PostgresServer pg)
{
    private const string Pw = "correct horse battery";

    [Fact]
    public async Task After_a_restart_vanished_earlier_names_only_what_was_expunged_since_the_client_s_modseq()
    {
        var cs = await pg.NewDatabaseAsync("qrrestart");
        var dir = Path.Combine(pg.Root, "qr-" + Guid.NewGuid().ToString("N")[..8]);
        var ports = HostProcess.Ports.Free();
        var host = await HostProcess.StartAsync(cs, dir, ports);
        try
        {
            Assert.True((await host.Http.PostAsJsonAsync("/api/v1/domains", new { name = "qr.test" })).IsSuccessStatusCode);
            Assert.True((await host.Http.PostAsJsonAsync("/api/v1/domains/qr.test/accounts", new { localPart = "q", password = Pw })).IsSuccessStatusCode);
            const string user = "q@qr.test";

            long uidValidity, modseq;
            await using (var c = await RawImap.LoginAsync(ports.Imaps, user, Pw))
            {
                for (var i = 1; i <= 6; i++)
                {
                    var bytes = Encoding.UTF8.GetBytes($"From: a@example.org\r\nSubject: m{i}\r\n\r\nbody {i}\r\n");
                    var tag = c.NextTag();
                    await c.SendRawAsync($"{tag} APPEND INBOX {{{bytes.Length}+}}\r\n");
                    await c.SendRawAsync([.. bytes, .. "\r\n"u8]);
                    Assert.True((await c.ReadTaggedAsync(tag)).Ok);
                }
                await c.CommandAsync("ENABLE QRESYNC");
                await c.CommandAsync("SELECT INBOX");
                // UID 1 goes before the client's state is taken: it must not be reported later.
                await c.CommandAsync("UID STORE 1 +FLAGS.SILENT (\\Deleted)");
                await c.CommandAsync("UID EXPUNGE 1");
                var state = await c.CommandAsync("STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)");
                var status = state.Untagged.Single(l => l.StartsWith("* STATUS", StringComparison.Ordinal));
                uidValidity = long.Parse(Between(status, "UIDVALIDITY ", " "));
                modseq = long.Parse(Between(status, "HIGHESTMODSEQ ", ")"));
                // What the client then misses: two expunges and a MOVE out of the folder.
                await c.CommandAsync("UID STORE 2,4 +FLAGS.SILENT (\\Deleted)");
                Assert.True((await c.CommandAsync("UID EXPUNGE 2,4")).Ok);
                Assert.True((await c.CommandAsync("UID MOVE 5 Archive")).Ok);
            }

            // The whole node dies; the grain's in-memory log of expunges with it.
            await host.KillAsync();
            await host.DisposeAsync();
            host = await HostProcess.StartAsync(cs, dir, ports);

            await using (var c = await RawImap.LoginAsync(ports.Imaps, user, Pw))
            {
                await c.CommandAsync("ENABLE QRESYNC");
                var resync = await c.CommandAsync($"SELECT INBOX (QRESYNC ({uidValidity} {modseq} 1:6))");
                Assert.True(resync.Ok, resync.Text);
                Assert.Contains("* VANISHED (EARLIER) 2,4:5", resync.Untagged);
                var changed = await c.CommandAsync($"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)");
                Assert.Equal("* VANISHED (EARLIER) 2,4:5", changed.Untagged[0]);
                // Known UIDs limit the answer (RFC 7162 3.2.5.2).
                var limited = await c.CommandAsync($"SELECT INBOX (QRESYNC ({uidValidity} {modseq} 3:4))");
                Assert.Contains("* VANISHED (EARLIER) 4", limited.Untagged);
            }

            // MailKit's QRESYNC open hears the same three and no more.
            using var client = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
            await client.ConnectAsync("127.0.0.1", ports.Imaps, SecureSocketOptions.SslOnConnect);
            await client.AuthenticateAsync(user, Pw);
            await client.EnableQuickResyncAsync();
            var vanished = new List<UniqueId>();
            var earlier = false;
            client.Inbox.MessagesVanished += (_, e) =>
            {
                vanished.AddRange(e.UniqueIds);
                earlier |= e.Earlier;
            };
            var known = new UniqueIdRange((uint)uidValidity, 1, 6);
            await client.Inbox.OpenAsync(FolderAccess.ReadOnly, (uint)uidValidity, (ulong)modseq, known);
            Assert.True(earlier);
            Assert.Equal([2u, 4u, 5u], vanished.Select(u => u.Id).Order());
            Assert.Equal(2, client.Inbox.Count);
            Assert.Equal([3u, 6u], (await client.Inbox.SearchAsync(SearchQuery.All)).Select(u => u.Id));
            await client.DisconnectAsync(true);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    private static string Between(string text, string start, string end)
    {
        var i = text.IndexOf(start, StringComparison.Ordinal) + start.Length;
        var j = text.IndexOfAny([end[0], ')'], i);
        return text[i..j];
    }
}
