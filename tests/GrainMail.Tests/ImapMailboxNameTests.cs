using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// Mailbox names with atom-specials, given as quoted strings (RFC 3501 5.1, 9; RFC 9051 5.1): GrainMail
/// takes any printable name (Dovecot accepts most printable names too) except the LIST wildcards % and *, control characters and
/// an empty level around the separator "/". A name that can be works in every command that takes one and
/// comes back from LIST, LSUB and STATUS quoted so that it reads back as the same name; one that cannot
/// gets NO with the reason. Never BAD, never a disconnect. Byte for byte over real TCP, then through
/// MailKit's ImapClient, which quotes and parses names on its own.
/// </summary>
public sealed class ImapMailboxNameTests(SmtpHostFixture host) : IClassFixture<SmtpHostFixture>
{
    /// <summary>A name as sent (a quoted string) and as the server writes it back: here the same quoted string.</summary>
    public static TheoryData<string> Names => new()
    {
        "\"a(b\"",
        "\"x]y\"",
        "\"sp ace\"",
        "\"quo\\\"te\"",
        "\"back\\\\slash\"",
        "\"cur{ly}\"",
        "\"NIL\"",
        "\"a&-b (c)\"",
        "\"Entw&APw-rfe [draft]\"",
        "\"par(ent)/ch ild\"",
    };

    /// <summary>Every response of one command: tagged OK or NO, never BAD, no BYE; the session goes on.</summary>
    private static async Task<ImapResponse> Answered(RawImap c, string command)
    {
        var r = await c.CommandAsync(command);
        Assert.False(r.Tagged.StartsWith("BAD", StringComparison.Ordinal), $"{command}\n{r.Text}");
        Assert.DoesNotContain(r.Untagged, l => l.StartsWith("* BYE", StringComparison.Ordinal));
        return r;
    }

    private static async Task<ImapResponse> Ok(RawImap c, string command)
    {
        var r = await Answered(c, command);
        Assert.True(r.Ok, $"{command}\n{r.Text}");
        return r;
    }

    private static string Renamed(string quoted) => quoted[..^1] + " 2\"";

    [Theory]
    [MemberData(nameof(Names))]
    public async Task A_quoted_name_with_atom_specials_works_in_every_command_and_lists_back_quoted(string name)
    {
        var (c, _) = await RawImap.NewUserAsync(host, "n");
        await using var _c = c;
        Assert.True((await c.AppendAsync("Subject: to copy\r\n\r\nx\r\n")).Ok);

        await Ok(c, $"CREATE {name}");
        // LIST with the name as its pattern: exactly that mailbox, written as it was sent.
        var listed = await Ok(c, $"LIST \"\" {name}");
        Assert.EndsWith(" \"/\" " + name, Assert.Single(listed.Untagged));
        Assert.Contains((await Ok(c, "LIST \"\" *")).Untagged, l => l.EndsWith(" \"/\" " + name, StringComparison.Ordinal));
        Assert.Equal($"* STATUS {name} (MESSAGES 0 UIDNEXT 1)", Assert.Single((await Ok(c, $"STATUS {name} (MESSAGES UIDNEXT)")).Untagged));

        Assert.StartsWith("OK [APPENDUID ", (await c.AppendAsync("Subject: appended\r\n\r\nx\r\n", name)).Tagged);
        await Ok(c, "SELECT INBOX");
        Assert.StartsWith("OK [COPYUID ", (await Ok(c, $"COPY 1 {name}")).Tagged);
        var selected = await Ok(c, $"SELECT {name}");
        Assert.Contains("* 2 EXISTS", selected.Untagged);
        // MOVE out of it and back in (RFC 6851).
        await Ok(c, "MOVE 2 INBOX");
        await Ok(c, "SELECT INBOX");
        await Ok(c, $"UID MOVE 2 {name}");
        Assert.Equal($"* STATUS {name} (MESSAGES 2)", Assert.Single((await Ok(c, $"STATUS {name} (MESSAGES)")).Untagged));

        await Ok(c, $"UNSUBSCRIBE {name}");
        Assert.Empty((await Ok(c, $"LSUB \"\" {name}")).Untagged);
        await Ok(c, $"SUBSCRIBE {name}");
        Assert.EndsWith(" \"/\" " + name, Assert.Single((await Ok(c, $"LSUB \"\" {name}")).Untagged));

        // RENAME keeps the specials; the old name is gone, the new one lists and holds the messages.
        await Ok(c, "UNSELECT");
        await Ok(c, $"RENAME {name} {Renamed(name)}");
        Assert.Empty((await Ok(c, $"LIST \"\" {name}")).Untagged);
        Assert.EndsWith(" \"/\" " + Renamed(name), Assert.Single((await Ok(c, $"LIST \"\" {Renamed(name)}")).Untagged));
        Assert.Equal($"* STATUS {Renamed(name)} (MESSAGES 2)", Assert.Single((await Ok(c, $"STATUS {Renamed(name)} (MESSAGES)")).Untagged));
        await Ok(c, $"DELETE {Renamed(name)}");
        Assert.StartsWith("NO [NONEXISTENT]", (await Answered(c, $"SELECT {Renamed(name)}")).Tagged);
    }

    /// <summary>A name that cannot be, the reason NO gives for creating it.</summary>
    public static TheoryData<string, string> Impossible => new()
    {
        { "\"a*b\"", "% or *" },
        { "\"50%\"", "% or *" },
        { "\"/lead\"", "hierarchy separator" },
        { "\"a//b\"", "hierarchy separator" },
        // A TAB in modified UTF-7 (a raw one is no modified UTF-7 at all: NO [CANNOT] says that for every
        // command, T.ImapConformanceTests.A_mailbox_name_that_cannot_be_is_refused_with_NO_and_the_session_goes_on).
        { "\"tab&AAk-here\"", "control characters" },
    };

    [Theory]
    [MemberData(nameof(Impossible))]
    public async Task A_name_that_cannot_be_gets_NO_with_the_reason_from_every_command(string name, string reason)
    {
        var (c, _) = await RawImap.NewUserAsync(host, "n");
        await using var _c = c;
        Assert.True((await c.AppendAsync("Subject: to copy\r\n\r\nx\r\n")).Ok);
        await Ok(c, "CREATE Source");

        // Where the name would be made: NO [CANNOT] and why (RFC 5530).
        foreach (var command in new[] { $"CREATE {name}", $"RENAME Source {name}", $"SUBSCRIBE {name}" })
        {
            var r = await Answered(c, command);
            Assert.StartsWith("NO [CANNOT] ", r.Tagged);
            Assert.Contains(reason, r.Tagged);
        }
        // Where it would be used: there is no such mailbox.
        foreach (var command in new[] { $"SELECT {name}", $"EXAMINE {name}", $"STATUS {name} (MESSAGES)", $"DELETE {name}" })
            Assert.StartsWith("NO [NONEXISTENT]", (await Answered(c, command)).Tagged);
        Assert.StartsWith("NO [TRYCREATE]", (await c.AppendAsync("Subject: x\r\n\r\nx\r\n", name)).Tagged);
        await Ok(c, "SELECT INBOX");
        Assert.StartsWith("NO [TRYCREATE]", (await Answered(c, $"COPY 1 {name}")).Tagged);
        Assert.StartsWith("NO [TRYCREATE]", (await Answered(c, $"MOVE 1 {name}")).Tagged);
        // As a LIST pattern it is a pattern: it matches nothing here, and the session goes on.
        await Ok(c, $"LIST \"\" {name}");
        Assert.Contains("* 1 EXISTS", (await Ok(c, "SELECT INBOX")).Untagged);
    }

    [Fact]
    public async Task MailKit_creates_lists_appends_to_renames_and_deletes_folders_with_atom_specials()
    {
        var local = "k" + Guid.NewGuid().ToString("N")[..10];
        await host.NewAccount(local);
        var user = $"{local}@{SmtpHostFixture.Domain}";
        using var imap = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await imap.ConnectAsync("127.0.0.1", host.Imap, SecureSocketOptions.StartTls);
        await imap.AuthenticateAsync(user, SmtpHostFixture.Password);
        var root = imap.GetFolder(imap.PersonalNamespaces[0]);
        string[] names = ["a(b", "x]y", "sp ace", "quo\"te", "back\\slash", "cur{ly}", "NIL", "Entwürfe [draft]", "100$ & co"];

        foreach (var n in names) await root.CreateAsync(n, true);
        var listed = (await root.GetSubfoldersAsync(false)).Select(f => f.FullName).ToList();
        foreach (var n in names) Assert.Contains(n, listed);

        foreach (var n in names)
        {
            var folder = await imap.GetFolderAsync(n);
            var message = new MimeMessage();
            message.From.Add(MailboxAddress.Parse("a@example.org"));
            message.Subject = "in " + n;
            message.Body = new TextPart("plain") { Text = "x" };
            Assert.NotNull(await folder.AppendAsync(new AppendRequest(message, MessageFlags.Seen)));
            await folder.OpenAsync(FolderAccess.ReadWrite);
            Assert.Equal(1, folder.Count);
            Assert.Equal("in " + n, (await folder.GetMessageAsync(0)).Subject);
            await folder.StatusAsync(StatusItems.Count | StatusItems.UidNext);
            Assert.Equal(1, folder.Count);
            await folder.CloseAsync();
            await folder.RenameAsync(root, n + " (old)");
            Assert.Equal(n + " (old)", folder.FullName);
        }
        listed = (await root.GetSubfoldersAsync(false)).Select(f => f.FullName).ToList();
        foreach (var n in names)
        {
            Assert.Contains(n + " (old)", listed);
            Assert.DoesNotContain(n, listed);
            var renamed = await imap.GetFolderAsync(n + " (old)");
            await renamed.StatusAsync(StatusItems.Count);
            Assert.Equal(1, renamed.Count);
            await renamed.DeleteAsync();
        }
        listed = (await root.GetSubfoldersAsync(false)).Select(f => f.FullName).ToList();
        Assert.DoesNotContain(listed, l => names.Any(n => l.StartsWith(n, StringComparison.Ordinal)));

        // A name that cannot be: MailKit gets NO with the reason, and the connection stays.
        var refused = await Assert.ThrowsAsync<ImapCommandException>(() => root.CreateAsync("50%", true));
        Assert.Equal(ImapCommandResponse.No, refused.Response);
        Assert.Contains("% or *", refused.ResponseText);
        Assert.True(imap.IsConnected);
        await imap.NoOpAsync();
        await imap.DisconnectAsync(true);
    }
}
