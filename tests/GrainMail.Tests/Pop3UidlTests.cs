using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Pop3;
using MailKit.Security;

namespace GrainMail.Tests;

/// <summary>
/// UIDL (RFC 1939 §7): a message's unique id never changes, whichever region's gateway a client
/// reaches and however often the silos restart — built from the folder's UIDVALIDITY and the
/// message's UID, both stored in PostgreSQL, which every region reads.
/// </summary>
public sealed class Pop3UidlTests(PostgresServer pg)
{
    private const string Password = "correct horse battery";
    private const string User = "pat@bj.test";
    private static readonly string MasterKey = Convert.ToHexString(Enumerable.Range(0, 32).Select(i => (byte)(90 + i)).ToArray());

    private static Dictionary<string, string> Env(string region) => new()
    {
        ["GRAINMAIL_REGION"] = region,
        ["GRAINMAIL_MASTER_KEY"] = MasterKey,
        ["GrainMail__AllowPlaintextAuth"] = "true",
    };

    /// <summary>The UIDL list through a host's POP3 port, once the mailbox answers there (a silo may still be taking it over).</summary>
    private static async Task<List<string>> UidlAsync(HostProcess host, int expected)
    {
        return await Eventually.Value(async () =>
        {
            try
            {
                using var p = new Pop3Client { Timeout = 10_000 };
                await p.ConnectAsync("127.0.0.1", host.Listening.Pop3, SecureSocketOptions.None);
                await p.AuthenticateAsync(User, Password);
                var uids = (await p.GetMessageUidsAsync()).ToList();
                await p.DisconnectAsync(true);
                return uids;
            }
            catch (Exception e) when (e is Pop3CommandException or Pop3ProtocolException or AuthenticationException or IOException
                or System.Net.Sockets.SocketException or TimeoutException)
            {
                return [];
            }
        }, uids => uids.Count == expected, TimeSpan.FromSeconds(60), $"{expected} UIDL lines from {host.BaseUrl}", poll: TimeSpan.FromMilliseconds(500));
    }

    private static async Task<string> MailboxRegionAsync(HostProcess host)
    {
        try
        {
            var p = await host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/accounts/{User}/placement");
            return p.GetProperty("mailbox").GetProperty("region").GetString() ?? "";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return "";
        }
    }

    [Fact]
    public async Task UIDL_is_the_same_through_either_region_and_after_the_silos_restart()
    {
        var cs = await pg.NewDatabaseAsync("pop3uidl");
        var dir = Path.Combine(pg.Root, "pop3uidl-" + Guid.NewGuid().ToString("N")[..8]);
        var beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj"), HostProcess.Ports.Free(), extraEnvironment: Env("beijing"));
        var hangzhou = await HostProcess.StartAsync(cs, Path.Combine(dir, "hz"), HostProcess.Ports.Free(), extraEnvironment: Env("hangzhou"));
        try
        {
            (await hangzhou.Http.PostAsJsonAsync("/api/v1/domains", new { name = "bj.test", homeRegion = "beijing" })).EnsureSuccessStatusCode();
            (await hangzhou.Http.PostAsJsonAsync("/api/v1/domains/bj.test/accounts", new { localPart = "pat", password = Password })).EnsureSuccessStatusCode();
            for (var i = 0; i < 3; i++) await TestMail.SendToMxAsync(beijing.Listening.Mx, User, $"kept {i}");

            // Through Beijing's gateway (the mailbox at home) and Hangzhou's (a call across regions).
            var original = await UidlAsync(beijing, 3);
            Assert.Equal(original, await UidlAsync(hangzhou, 3));

            // Beijing dies: the mailbox is activated again in Hangzhou, from the database.
            await beijing.KillAsync();
            await Eventually.Value(() => MailboxRegionAsync(hangzhou), r => r == "hangzhou", TimeSpan.FromSeconds(60), "the mailbox in hangzhou");
            Assert.Equal(original, await UidlAsync(hangzhou, 3));

            // Beijing comes back (a restarted silo): the mailbox goes home, the ids stay.
            await beijing.DisposeAsync();
            beijing = await HostProcess.StartAsync(cs, Path.Combine(dir, "bj2"), HostProcess.Ports.Free(), extraEnvironment: Env("beijing"));
            await Eventually.Value(() => MailboxRegionAsync(hangzhou), r => r == "beijing", TimeSpan.FromSeconds(60), "the mailbox back in beijing");
            Assert.Equal(original, await UidlAsync(beijing, 3));

            // A new message gets a new id; the old ones keep theirs.
            await TestMail.SendToMxAsync(beijing.Listening.Mx, User, "new");
            var after = await UidlAsync(hangzhou, 4);
            Assert.Equal(original, after.Take(3));
            Assert.DoesNotContain(after[3], original);
        }
        finally
        {
            await beijing.DisposeAsync();
            await hangzhou.DisposeAsync();
        }
    }
}
