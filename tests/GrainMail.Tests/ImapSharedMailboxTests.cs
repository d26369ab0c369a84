using System.Globalization;
using System.Text.RegularExpressions;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// Several sessions on one mailbox at once, reading while others write (issue 13: the mailbox grain
/// answers reads while a write waits on PostgreSQL). Each reader keeps the message count it was told
/// (EXISTS, EXPUNGE; RFC 3501 7.3.1, 7.4.1) and checks every FETCH 1:* against it; at the end every
/// session, synchronised with NOOP, holds the same UIDs and flags as the server.
/// </summary>
public sealed partial class ImapSharedMailboxTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    private const string Pw = SmtpHostFixture.Password;

    [GeneratedRegex(@"^\* (\d+) (EXISTS|EXPUNGE)$")]
    private static partial Regex CountLine();

    [GeneratedRegex(@"^\* (\d+) FETCH \(.*UID (\d+)")]
    private static partial Regex FetchLine();

    /// <summary>A session's view as its untagged responses built it.</summary>
    private sealed class View
    {
        public int Count;

        public void Take(ImapResponse r)
        {
            foreach (var line in r.Untagged)
            {
                var m = CountLine().Match(line);
                if (!m.Success) continue;
                if (m.Groups[2].Value == "EXISTS") Count = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                else
                {
                    Assert.True(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) <= Count, "EXPUNGE of a message the session does not have");
                    Count--;
                }
            }
        }
    }

    /// <summary>
    /// UIDs and flags from a UID FETCH 1:* (FLAGS), checked to be the view's messages in order. The
    /// response may also carry unsolicited FETCH FLAGS of another session's change (RFC 3501 7.4.2) and
    /// EXPUNGE/EXISTS before them: the lines after the last EXPUNGE or EXISTS count, the last per number.
    /// </summary>
    private static List<string> Messages(ImapResponse r, View view)
    {
        var from = r.Untagged.FindLastIndex(l => CountLine().IsMatch(l)) + 1;
        var rows = r.Untagged.Skip(from).Select(l => (Line: l, M: FetchLine().Match(l))).Where(x => x.M.Success)
            .GroupBy(x => int.Parse(x.M.Groups[1].Value, CultureInfo.InvariantCulture)).OrderBy(g => g.Key).Select(g => g.Last()).ToList();
        Assert.Equal(Enumerable.Range(1, rows.Count), rows.Select(x => int.Parse(x.M.Groups[1].Value, CultureInfo.InvariantCulture)));
        var uids = rows.Select(x => long.Parse(x.M.Groups[2].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(uids.Order(), uids);
        Assert.Equal(view.Count, rows.Count);
        return rows.Select(x => x.M.Groups[2].Value + (x.Line.Contains("\\Flagged", StringComparison.Ordinal) ? "F" : "")).ToList();
    }

    private static async Task<ImapResponse> Run(RawImap c, View v, string command)
    {
        var r = await c.CommandAsync(command);
        Assert.True(r.Ok, command + "\n" + r.Text);
        v.Take(r);
        return r;
    }

    [Fact]
    public async Task Readers_and_writers_on_one_mailbox_keep_views_that_agree_with_the_server()
    {
        var (first, user) = await RawImap.NewUserAsync(host, "s");
        await using var _ = first;
        var sessions = new List<(RawImap C, View V)> { (first, new View()) };
        for (var i = 0; i < 4; i++) sessions.Add((await RawImap.LoginAsync(host.Imaps, user, Pw), new View()));
        try
        {
            for (var i = 0; i < 10; i++) Assert.True((await first.AppendAsync($"From: a@example.org\r\nSubject: seed {i}\r\n\r\nbody\r\n")).Ok);
            foreach (var (c, v) in sessions) await Run(c, v, "SELECT INBOX");
            var (appender, appenderView) = sessions[0];
            var (expunger, expungerView) = sessions[1];

            var writers = Task.WhenAll(
                Task.Run(async () =>
                {
                    for (var i = 0; i < 25; i++)
                    {
                        Took(await appender.AppendAsync($"From: a@example.org\r\nSubject: new {i}\r\n\r\nbody\r\n"), appenderView);
                        await Run(appender, appenderView, "STORE * +FLAGS.SILENT (\\Flagged)");
                    }
                }),
                Task.Run(async () =>
                {
                    for (var expunged = 0; expunged < 20; expunged++)
                    {
                        await Run(expunger, expungerView, "NOOP");
                        while (expungerView.Count == 0) await Run(expunger, expungerView, "NOOP");
                        await Run(expunger, expungerView, "STORE 1 +FLAGS.SILENT (\\Deleted)");
                        await Run(expunger, expungerView, "EXPUNGE");
                        await Run(expunger, expungerView, "STORE 1 -FLAGS.SILENT (\\Flagged)");
                    }
                }));
            var readers = sessions.Skip(2).Select(s => Task.Run(async () =>
            {
                while (!writers.IsCompleted)
                {
                    await Run(s.C, s.V, "NOOP");
                    await Run(s.C, s.V, "STATUS INBOX (MESSAGES UIDNEXT)");
                    await Run(s.C, s.V, "LIST \"\" *");
                    Messages(await Run(s.C, s.V, "UID FETCH 1:* (FLAGS)"), s.V);
                }
            })).ToList();
            await writers;
            await Task.WhenAll(readers);

            var states = new List<List<string>>();
            foreach (var (c, view) in sessions)
            {
                await Run(c, view, "NOOP");
                states.Add(Messages(await Run(c, view, "UID FETCH 1:* (FLAGS)"), view));
            }
            Assert.All(states, s => Assert.Equal(states[0], s));
            // 10 seeded and 25 appended, 20 expunged.
            Assert.Equal(15, states[0].Count);
        }
        finally
        {
            foreach (var (c, _) in sessions.Skip(1)) await c.DisposeAsync();
        }

        static void Took(ImapResponse r, View view)
        {
            Assert.True(r.Ok, r.Text);
            view.Take(r);
        }
    }
}
