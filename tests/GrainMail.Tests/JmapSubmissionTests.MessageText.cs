using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Search;

namespace GrainMail.Tests;

/// <summary>
/// The message-text rule of every way in (CRLF line ends, no NUL, the header limits, a header section with a field) where
/// JMAP stores or sends a message: Email/import's blob, Email/set's built message, EmailSubmission/set's Email — and the
/// sizes JMAP and IMAP give of what was stored.
/// </summary>
public sealed partial class JmapSubmissionTests
{
    /// <summary>Uploads <paramref name="raw"/> and imports it into Drafts: the Email/import response.</summary>
    private static async Task<JsonObject> ImportAsync(JmapClient c, byte[] raw)
    {
        using var content = new ByteArrayContent(raw);
        content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
        var up = await c.Http.PostAsync($"/jmap/upload/{c.AccountId}/", content);
        Assert.Equal(HttpStatusCode.Created, up.StatusCode);
        var blobId = (string)JsonNode.Parse(await up.Content.ReadAsStringAsync())!["blobId"]!;
        return (await c.CallAsync("Email/import", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["emails"] = new JsonObject { ["e"] = new JsonObject { ["blobId"] = blobId, ["mailboxIds"] = new JsonObject { [(await RolesAsync(c))["drafts"]] = true } } },
        })).Of("Email/import");
    }

    /// <summary>Each message of a user's folder whose subject contains <paramref name="subject"/>: its bytes (BODY[]) and RFC822.SIZE, over IMAP.</summary>
    private async Task<List<(byte[] Bytes, long Size)>> ImapCopiesAsync(string user, string folderName, string subject)
    {
        using var imap = await f.ImapAsync(user);
        var folder = folderName == "INBOX" ? imap.Inbox : await imap.GetFolderAsync(folderName);
        await folder.OpenAsync(FolderAccess.ReadOnly);
        var uids = await folder.SearchAsync(SearchQuery.SubjectContains(subject));
        var list = new List<(byte[], long)>();
        foreach (var summary in await folder.FetchAsync(uids, MessageSummaryItems.UniqueId | MessageSummaryItems.Size))
        {
            using var stream = await folder.GetStreamAsync(summary.UniqueId, "");
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            list.Add((copy.ToArray(), (long)summary.Size!));
        }
        await imap.DisconnectAsync(true);
        return list;
    }

    /// <summary>JMAP's size of an Email, by Email/get.</summary>
    private static async Task<long> JmapSizeAsync(JmapClient c, string emailId)
    {
        var got = (await c.CallAsync("Email/get", new { accountId = c.AccountId, ids = new[] { emailId }, properties = new[] { "size" } })).Of("Email/get");
        return (long)got["list"]![0]!["size"]!;
    }

    /// <summary>Every line end is CR LF: no LF without a CR before it, no CR without an LF after it.</summary>
    private static void AssertCrlfOnly(byte[] bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n') Assert.True(i > 0 && bytes[i - 1] == '\r', $"a bare LF at offset {i}");
            if (bytes[i] == '\r') Assert.True(i + 1 < bytes.Length && bytes[i + 1] == '\n', $"a bare CR at offset {i}");
        }
        Assert.Contains("\r\n\r\n", Encoding.ASCII.GetString(bytes));
    }

    /// <summary>
    /// RFC 8621 4.8: a blob that is not a valid message is invalidEmail. Valid is what SMTP DATA and IMAP APPEND accept: a
    /// NUL, a header field over the limit (64 KiB) and an empty header section are refused with a description, and nothing is
    /// stored; bare LF line ends become CRLF, and the size Email/import answers is the stored message's, as Email/get and IMAP
    /// RFC822.SIZE give it and as many bytes as IMAP returns. Sent on, the imported Email arrives with CRLF too.
    /// </summary>
    [Fact]
    public async Task Email_import_refuses_what_every_other_way_in_refuses_and_stores_crlf()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var before = (string)(await c.CallAsync("Email/get", new { accountId = c.AccountId, ids = Array.Empty<string>() })).Of("Email/get")["state"]!;

        async Task RefusedAsync(byte[] raw, string says)
        {
            var r = await ImportAsync(c, raw);
            Assert.True(r["notCreated"]?["e"] is JsonObject, r.ToJsonString());
            Assert.Null(r["created"]);
            Assert.Equal("invalidEmail", (string)r["notCreated"]!["e"]!["type"]!);
            Assert.Contains(says, (string)r["notCreated"]!["e"]!["description"]!);
        }
        await RefusedAsync(Encoding.ASCII.GetBytes($"From: <{alice}>\r\nTo: <{bob}>\r\nSubject: Import with a NUL\r\n\r\nBefore\0after.\r\n"), "NUL");
        await RefusedAsync(Encoding.ASCII.GetBytes($"From: <{alice}>\r\nTo: <{bob}>\r\nSubject: Import with a long field\r\nX-Long: {new string('x', 70_000)}\r\n\r\nHi.\r\n"), "header field exceeds");
        await RefusedAsync("\r\nNo header at all.\r\n"u8.ToArray(), "no header fields");
        // Refused, so nothing changed: the Email state is the one before.
        Assert.Equal(before, (string)(await c.CallAsync("Email/get", new { accountId = c.AccountId, ids = Array.Empty<string>() })).Of("Email/get")["state"]!);

        // Bare LF line ends, as a Unix tool writes a message: imported with CRLF.
        var unix = Encoding.ASCII.GetBytes($"From: <{alice}>\nTo: <{bob}>\nSubject: Unix line ends\nMessage-ID: <{Guid.NewGuid():N}@lf.example>\n\nOne\nTwo\n");
        var imported = await ImportAsync(c, unix);
        var created = (JsonObject)imported["created"]!["e"]!;
        var id = (string)created["id"]!;
        var stored = Assert.Single(await ImapCopiesAsync(alice, "Drafts", "Unix line ends"));
        AssertCrlfOnly(stored.Bytes);
        Assert.Equal(unix.Length + unix.Count(b => b == '\n'), stored.Bytes.Length);
        Assert.Equal(stored.Bytes.Length, stored.Size);
        Assert.Equal(stored.Size, (long)created["size"]!);
        Assert.Equal(stored.Size, await JmapSizeAsync(c, id));

        // Sent on: bob's copy has CRLF only, and its IMAP size is its length.
        Assert.Null(NotCreated(await SubmitAsync(c, identity, id)));
        var arrived = Assert.Single(await Eventually.Value(() => ImapCopiesAsync(bob, "INBOX", "Unix line ends"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the imported message in bob's INBOX"));
        AssertCrlfOnly(arrived.Bytes);
        Assert.Equal(arrived.Bytes.Length, arrived.Size);
        Assert.Contains("\r\n\r\nOne\r\nTwo\r\n", Encoding.ASCII.GetString(arrived.Bytes));
    }

    /// <summary>
    /// Email/set builds the message from JMAP properties; it is stored with CRLF line ends whatever the platform's own line
    /// end (MimeKit writes the machine's, LF on Linux, unless told), body text with LF line breaks included, and delivered so.
    /// Email/set's size, Email/get's and IMAP's RFC822.SIZE are the stored bytes' count, for the sender's draft and for the
    /// recipient's copy (whose JMAP size bob's own session gives).
    /// </summary>
    [Fact]
    public async Task A_message_built_by_email_set_is_stored_and_delivered_with_crlf_line_ends_only()
    {
        var domain = await f.NewDomainAsync();
        var alice = await f.NewAccountAsync(domain, "alice");
        var bob = await f.NewAccountAsync(domain, "bob");
        using var c = await f.LoginAsync(alice);
        var identity = await IdentityAsync(c, alice);
        var roles = await RolesAsync(c);
        var set = (await c.CallAsync("Email/set", new JsonObject
        {
            ["accountId"] = c.AccountId,
            ["create"] = new JsonObject
            {
                ["d"] = new JsonObject
                {
                    ["mailboxIds"] = new JsonObject { [roles["drafts"]] = true },
                    ["from"] = new JsonArray(new JsonObject { ["email"] = alice }),
                    ["to"] = new JsonArray(new JsonObject { ["email"] = bob }),
                    ["subject"] = "Built with CRLF",
                    ["bodyValues"] = new JsonObject { ["1"] = new JsonObject { ["value"] = "First line\nsecond line\n\nafter a blank line\n" } },
                    ["textBody"] = new JsonArray(new JsonObject { ["partId"] = "1", ["type"] = "text/plain" }),
                },
            },
        })).Of("Email/set");
        var created = (JsonObject)set["created"]!["d"]!;
        var id = (string)created["id"]!;

        var draft = Assert.Single(await ImapCopiesAsync(alice, "Drafts", "Built with CRLF"));
        AssertCrlfOnly(draft.Bytes);
        Assert.Contains("First line\r\nsecond line\r\n\r\nafter a blank line", Encoding.ASCII.GetString(draft.Bytes));
        Assert.Equal(draft.Bytes.Length, draft.Size);
        Assert.Equal(draft.Size, (long)created["size"]!);
        Assert.Equal(draft.Size, await JmapSizeAsync(c, id));

        Assert.Null(NotCreated(await SubmitAsync(c, identity, id)));
        var arrived = Assert.Single(await Eventually.Value(() => ImapCopiesAsync(bob, "INBOX", "Built with CRLF"), l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in bob's INBOX"));
        AssertCrlfOnly(arrived.Bytes);
        Assert.Equal(arrived.Bytes.Length, arrived.Size);
        using var b = await f.LoginAsync(bob);
        var ids = await Eventually.Value(async () => (JsonArray)(await b.CallAsync("Email/query", new { accountId = b.AccountId, filter = new { subject = "Built with CRLF" } })).Of("Email/query")["ids"]!,
            l => l.Count == 1, TimeSpan.FromSeconds(30), "the message in bob's Email/query");
        Assert.Equal(arrived.Size, await JmapSizeAsync(b, (string)ids[0]!));
    }
}
