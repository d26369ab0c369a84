using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Tests.Infrastructure;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace GrainMail.Tests;

/// <summary>
/// JMAP Mail (RFC 8621) end to end over HTTPS, with MailKit's IMAP client on the same mailbox:
/// ids agree with IMAP OBJECTID, and each protocol sees the other's changes at once.
/// </summary>
public sealed class JmapMailTests(JmapHostFixture fixture) : IClassFixture<JmapHostFixture>
{
    private async Task<ImapClient> ImapAsync(string user)
    {
        var c = new ImapClient { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };
        await c.ConnectAsync("127.0.0.1", fixture.Host.Listening.Imaps, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, JmapHostFixture.Password);
        return c;
    }

    private static MimeMessage ChineseMessage(string subject, string body)
    {
        // GB2312 on the wire: search must match after charset decoding.
        var gb = Encoding.GetEncoding("GB2312");
        var m = new MimeMessage { Subject = subject, Date = new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.FromHours(8)) };
        m.Headers.Replace(HeaderId.Subject, gb, subject);
        m.From.Add(new MailboxAddress("王小明", "wang@example.cn"));
        m.To.Add(new MailboxAddress("", "someone@example.cn"));
        var part = new TextPart("plain");
        part.SetText(gb, body);
        part.ContentTransferEncoding = ContentEncoding.Base64;
        m.Body = part;
        m.MessageId = Guid.NewGuid().ToString("N") + "@example.cn";
        return m;
    }

    private static string Role(JmapResponse r, string role) =>
        (string)((JsonArray)r.Of("Mailbox/get")["list"]!).First(m => (string?)m!["role"] == role)!["id"]!;

    [Fact]
    public async Task Imap_and_jmap_share_ids_and_see_each_others_changes()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var acc = jmap.AccountId;
        var boxes = await jmap.CallAsync("Mailbox/get", new { accountId = acc });
        var inboxId = Role(boxes, "inbox");
        foreach (var role in new[] { "sent", "drafts", "trash", "junk" }) Assert.NotNull(Role(boxes, role));
        var state0 = (string)boxes.Of("Mailbox/get")["state"]!;

        using var imap = await ImapAsync(user);
        var inbox = imap.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(inbox.Id, inboxId); // RFC 8474 MAILBOXID

        // IMAP APPEND -> JMAP /changes reports it, with IMAP's EMAILID and THREADID.
        var uid = (await inbox.AppendAsync(ChineseMessage("季度报告 第三季度", "请查收附件中的销售数据。谢谢!"), MessageFlags.None))!.Value;
        var summary = (await inbox.FetchAsync([uid], MessageSummaryItems.EmailId | MessageSummaryItems.ThreadId)).Single();
        var changes = await jmap.CallAsync("Email/changes", new { accountId = acc, sinceState = state0 });
        Assert.Equal([summary.EmailId], ((JsonArray)changes.Of("Email/changes")["created"]!).Select(x => (string)x!));
        var state1 = (string)changes.Of("Email/changes")["newState"]!;
        Assert.NotEqual(state0, state1);
        var id = summary.EmailId!;

        // Email/get: decoded header forms, body values, preview, thread id as IMAP's.
        var got = (await jmap.CallAsync("Email/get", new
        {
            accountId = acc,
            ids = new[] { id },
            fetchTextBodyValues = true,
            properties = new[] { "threadId", "mailboxIds", "keywords", "subject", "from", "preview", "textBody", "bodyValues", "header:Subject:asText", "header:From:asAddresses", "sentAt", "size", "receivedAt" },
        })).Of("Email/get");
        var email = (JsonObject)got["list"]![0]!;
        Assert.Equal(summary.ThreadId, (string)email["threadId"]!);
        Assert.Equal("季度报告 第三季度", (string)email["subject"]!);
        Assert.Equal("季度报告 第三季度", (string)email["header:Subject:asText"]!);
        Assert.Equal("王小明", (string)email["from"]![0]!["name"]!);
        Assert.Equal("wang@example.cn", (string)email["header:From:asAddresses"]![0]!["email"]!);
        Assert.True(((JsonObject)email["mailboxIds"]!).ContainsKey(inboxId));
        Assert.Empty((JsonObject)email["keywords"]!);
        Assert.StartsWith("请查收附件中的销售数据", (string)email["preview"]!);
        var partId = (string)email["textBody"]![0]!["partId"]!;
        Assert.StartsWith("请查收", (string)email["bodyValues"]![partId]!["value"]!);
        Assert.Equal("2026-11-30T09:00:00+08:00", (string)email["sentAt"]!);

        // Search compares after GB2312 decoding, in body and subject.
        var q = await jmap.RequestAsync([JmapClient.Core, JmapClient.Mail],
            ("Email/query", new { accountId = acc, filter = new { inMailbox = inboxId, body = "销售数据" } }, "body"),
            ("Email/query", new { accountId = acc, filter = new { subject = "第三季度" } }, "subject"),
            ("Email/query", new { accountId = acc, filter = new { text = "不存在的词" } }, "none"),
            ("Email/query", new { accountId = acc, filter = new { from = "王小明" } }, "from"),
            ("SearchSnippet/get", new JsonObject { ["accountId"] = acc, ["filter"] = new JsonObject { ["text"] = "销售" }, ["#emailIds"] = new JsonObject { ["resultOf"] = "body", ["name"] = "Email/query", ["path"] = "/ids" } }, "snip"));
        Assert.Equal([id], ((JsonArray)q.Of("Email/query", "body")["ids"]!).Select(x => (string)x!));
        Assert.Equal([id], ((JsonArray)q.Of("Email/query", "subject")["ids"]!).Select(x => (string)x!));
        Assert.Empty((JsonArray)q.Of("Email/query", "none")["ids"]!);
        Assert.Equal([id], ((JsonArray)q.Of("Email/query", "from")["ids"]!).Select(x => (string)x!));
        Assert.Contains("<mark>销售</mark>", (string)q.Of("SearchSnippet/get", "snip")["list"]![0]!["preview"]!);

        // JMAP keywords -> the open IMAP session sees the flags on NOOP.
        var set = await jmap.CallAsync("Email/set", new JsonObject { ["accountId"] = acc, ["update"] = new JsonObject { [id] = new JsonObject { ["keywords/$seen"] = true, ["keywords/$flagged"] = true, ["keywords/projectx"] = true } } });
        Assert.True(((JsonObject)set.Of("Email/set")["updated"]!).ContainsKey(id));
        await Eventually.Until(async () =>
        {
            await imap.NoOpAsync();
            var f = (await inbox.FetchAsync([uid], MessageSummaryItems.Flags)).Single();
            return f.Flags!.Value.HasFlag(MessageFlags.Seen) && f.Flags.Value.HasFlag(MessageFlags.Flagged) && f.Keywords.Contains("projectx");
        }, TimeSpan.FromSeconds(10), "IMAP to see the JMAP keywords");

        // IMAP STORE -> JMAP /changes has the Email as updated, and its keywords follow.
        await inbox.RemoveFlagsAsync(uid, MessageFlags.Flagged, silent: true);
        var c2 = (await jmap.CallAsync("Email/changes", new { accountId = acc, sinceState = state1 })).Of("Email/changes");
        Assert.Equal([id], ((JsonArray)c2["updated"]!).Select(x => (string)x!));
        var kw = (JsonObject)(await jmap.CallAsync("Email/get", new { accountId = acc, ids = new[] { id }, properties = new[] { "keywords" } })).Of("Email/get")["list"]![0]!["keywords"]!;
        Assert.Equal(["$seen", "projectx"], kw.Select(k => k.Key).Order());
        var state2 = (string)c2["newState"]!;

        // JMAP move to Archive-like folder created by Mailbox/set; IMAP sees the expunge.
        var created = await jmap.CallAsync("Mailbox/set", new { accountId = acc, create = new { p = new { name = "项目" } } });
        var projectId = (string)created.Of("Mailbox/set")["created"]!["p"]!["id"]!;
        var moved = await jmap.CallAsync("Email/set", new JsonObject { ["accountId"] = acc, ["update"] = new JsonObject { [id] = new JsonObject { ["mailboxIds"] = new JsonObject { [projectId] = true } } } });
        Assert.True(((JsonObject)moved.Of("Email/set")["updated"]!).ContainsKey(id));
        await Eventually.Until(async () =>
        {
            await imap.NoOpAsync();
            return inbox.Count == 0;
        }, TimeSpan.FromSeconds(10), "IMAP to see the message leave INBOX");
        var project = await imap.GetFolderAsync("项目");
        await project.OpenAsync(FolderAccess.ReadWrite);
        Assert.Equal(projectId, project.Id);
        var movedSummary = (await project.FetchAsync(0, -1, MessageSummaryItems.EmailId | MessageSummaryItems.UniqueId)).Single();
        Assert.Equal(id, movedSummary.EmailId);
        var c3 = (await jmap.CallAsync("Email/changes", new { accountId = acc, sinceState = state2 })).Of("Email/changes");
        Assert.Contains(id, ((JsonArray)c3["updated"]!).Select(x => (string)x!));
        Assert.Empty((JsonArray)c3["destroyed"]!);
        var mboxChanges = (await jmap.CallAsync("Mailbox/changes", new { accountId = acc, sinceState = state2 })).Of("Mailbox/changes");
        Assert.Contains(projectId, ((JsonArray)mboxChanges["created"]!).Select(x => (string)x!));
        Assert.Contains(inboxId, ((JsonArray)mboxChanges["updated"]!).Select(x => (string)x!));

        // A mailbox with mail is not destroyed unless asked; IMAP EXPUNGE -> JMAP destroyed.
        var refused = (await jmap.CallAsync("Mailbox/set", new { accountId = acc, destroy = new[] { projectId } })).Of("Mailbox/set");
        Assert.Equal("mailboxHasEmail", (string)refused["notDestroyed"]![projectId]!["type"]!);
        var state3 = (string)refused["newState"]!;
        await project.AddFlagsAsync(movedSummary.UniqueId, MessageFlags.Deleted, silent: true);
        await project.ExpungeAsync();
        var c4 = (await jmap.CallAsync("Email/changes", new { accountId = acc, sinceState = state3 })).Of("Email/changes");
        Assert.Equal([id], ((JsonArray)c4["destroyed"]!).Select(x => (string)x!));
        Assert.Equal("cannotCalculateChanges", (await jmap.CallAsync("Email/changes", new { accountId = acc, sinceState = "no such state" })).ErrorType());
        await imap.DisconnectAsync(true);
    }

    [Fact]
    public async Task Mailbox_counts_follow_appends_flags_moves_and_expunges_and_agree_with_imap_status()
    {
        // Mailbox/get's counts are kept as messages come and go (not counted per request): each change moves them.
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var acc = jmap.AccountId;
        using var imap = await ImapAsync(user);
        var inbox = imap.Inbox;
        await inbox.OpenAsync(FolderAccess.ReadWrite);
        var archive = await imap.GetFolderAsync("Archive");
        static MimeMessage Mail(string subject, string id, string? inReplyTo)
        {
            var m = new MimeMessage { Subject = subject, MessageId = id };
            m.From.Add(MailboxAddress.Parse("ann@example.com"));
            if (inReplyTo is not null) m.InReplyTo = inReplyTo;
            m.Body = new TextPart("plain") { Text = subject };
            return m;
        }
        var tag = Guid.NewGuid().ToString("N");
        var plan = (await inbox.AppendAsync(Mail("Plan", $"plan-{tag}@example.com", null), MessageFlags.None))!.Value;
        var reply = (await inbox.AppendAsync(Mail("Re: Plan", $"reply-{tag}@example.com", $"plan-{tag}@example.com"), MessageFlags.None))!.Value;
        var other = (await inbox.AppendAsync(Mail("Other", $"other-{tag}@example.com", null), MessageFlags.None))!.Value;

        async Task<(int Total, int Unread, int Threads, int UnreadThreads)> Counts(string role)
        {
            var box = ((JsonArray)(await jmap.CallAsync("Mailbox/get", new { accountId = acc })).Of("Mailbox/get")["list"]!).First(m => (string?)m!["role"] == role)!;
            return ((int)box["totalEmails"]!, (int)box["unreadEmails"]!, (int)box["totalThreads"]!, (int)box["unreadThreads"]!);
        }
        async Task SameAsStatus(IMailFolder folder, string role)
        {
            await folder.StatusAsync(StatusItems.Count | StatusItems.Unread);
            var c = await Counts(role);
            Assert.Equal((folder.Count, folder.Unread), (c.Total, c.Unread));
        }

        Assert.Equal((3, 3, 2, 2), await Counts("inbox"));
        await inbox.AddFlagsAsync(other, MessageFlags.Seen, silent: true);
        Assert.Equal((3, 2, 2, 1), await Counts("inbox"));
        await inbox.AddFlagsAsync(plan, MessageFlags.Seen, silent: true);
        Assert.Equal((3, 1, 2, 1), await Counts("inbox")); // the thread's reply is still unread
        await inbox.MoveToAsync(reply, archive);
        Assert.Equal((2, 0, 2, 0), await Counts("inbox"));
        Assert.Equal((1, 1, 1, 1), await Counts("archive"));
        await inbox.AddFlagsAsync(other, MessageFlags.Deleted, silent: true);
        await inbox.ExpungeAsync();
        Assert.Equal((1, 0, 1, 0), await Counts("inbox"));
        await inbox.RemoveFlagsAsync(plan, MessageFlags.Seen, silent: true);
        Assert.Equal((1, 1, 1, 1), await Counts("inbox"));
        await inbox.CloseAsync();
        await SameAsStatus(inbox, "inbox");
        await SameAsStatus(archive, "archive");
        await imap.DisconnectAsync(true);
    }

    [Fact]
    public async Task Upload_import_query_pages_download_and_destroy()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var acc = jmap.AccountId;
        var inboxId = Role(await jmap.CallAsync("Mailbox/get", new { accountId = acc }), "inbox");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var m = new MimeMessage { Subject = $"Report {i}", Date = DateTimeOffset.UtcNow };
            m.From.Add(MailboxAddress.Parse($"sender{i}@example.com"));
            m.To.Add(MailboxAddress.Parse(user));
            m.MessageId = $"report-{i}-{Guid.NewGuid():N}@example.com";
            var body = new Multipart("mixed") { new TextPart("plain") { Text = $"Body {i}" } };
            body.Add(new MimePart("application", "pdf") { Content = new MimeContent(new MemoryStream(Encoding.ASCII.GetBytes($"%PDF-fake-{i}-0123456789"))), FileName = $"r{i}.pdf", ContentTransferEncoding = ContentEncoding.Base64 });
            m.Body = body;
            using var raw = new MemoryStream();
            await m.WriteToAsync(raw);
            using var content = new ByteArrayContent(raw.ToArray());
            content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
            var up = await jmap.Http.PostAsync($"/jmap/upload/{acc}/", content);
            Assert.Equal(HttpStatusCode.Created, up.StatusCode);
            var blobId = (string)JsonNode.Parse(await up.Content.ReadAsStringAsync())!["blobId"]!;
            var imported = (await jmap.CallAsync("Email/import", new JsonObject
            {
                ["accountId"] = acc,
                ["emails"] = new JsonObject { ["e"] = new JsonObject { ["blobId"] = blobId, ["mailboxIds"] = new JsonObject { [inboxId] = true }, ["keywords"] = new JsonObject { ["$seen"] = true }, ["receivedAt"] = $"2026-11-0{i + 1}T10:00:00Z" } },
            })).Of("Email/import");
            ids.Add((string)imported["created"]!["e"]!["id"]!);
        }
        // Newest first, two per page, with total; then from an anchor.
        var page = (await jmap.CallAsync("Email/query", new { accountId = acc, filter = new { inMailbox = inboxId }, sort = new[] { new { property = "receivedAt", isAscending = false } }, limit = 2, calculateTotal = true })).Of("Email/query");
        Assert.Equal([ids[4], ids[3]], ((JsonArray)page["ids"]!).Select(x => (string)x!));
        Assert.Equal(5, (int)page["total"]!);
        var next = (await jmap.CallAsync("Email/query", new { accountId = acc, filter = new { inMailbox = inboxId }, sort = new[] { new { property = "receivedAt", isAscending = false } }, anchor = ids[3], anchorOffset = 1, limit = 2 })).Of("Email/query");
        Assert.Equal([ids[2], ids[1]], ((JsonArray)next["ids"]!).Select(x => (string)x!));
        var filtered = (await jmap.CallAsync("Email/query", new
        {
            accountId = acc,
            filter = new { @operator = "AND", conditions = new object[] { new { after = "2026-11-02T00:00:00Z" }, new { @operator = "NOT", conditions = new[] { new { subject = "Report 4" } } }, new { hasAttachment = true } } },
            sort = new[] { new { property = "subject", isAscending = true } },
        })).Of("Email/query");
        Assert.Equal([ids[1], ids[2], ids[3]], ((JsonArray)filtered["ids"]!).Select(x => (string)x!));

        // The attachment by its blob id, whole and by Range.
        var email = (await jmap.CallAsync("Email/get", new { accountId = acc, ids = new[] { ids[0] }, properties = new[] { "attachments", "hasAttachment", "blobId" } })).Of("Email/get")["list"]![0]!;
        Assert.True((bool)email["hasAttachment"]!);
        var attachment = email["attachments"]![0]!;
        Assert.Equal("r0.pdf", (string)attachment["name"]!);
        var url = $"/jmap/download/{acc}/{(string)attachment["blobId"]!}/r0.pdf?accept=application/pdf";
        var whole = await jmap.Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal("application/pdf", whole.Content.Headers.ContentType!.MediaType);
        Assert.Equal("%PDF-fake-0-0123456789", await whole.Content.ReadAsStringAsync());
        using var ranged = new HttpRequestMessage(HttpMethod.Get, url);
        ranged.Headers.Range = new RangeHeaderValue(5, 8);
        var part = await jmap.Http.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal("fake", await part.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await jmap.Http.GetAsync($"/jmap/download/{acc}/Bdeadbeef/x")).StatusCode);
        var parsed = (await jmap.CallAsync("Email/parse", new { accountId = acc, blobIds = new[] { (string)email["blobId"]! }, properties = new[] { "subject" } })).Of("Email/parse");
        Assert.Equal("Report 0", (string)parsed["parsed"]![(string)email["blobId"]!]!["subject"]!);

        // Create a draft from JMAP properties; then destroy everything.
        var draftsId = Role(await jmap.CallAsync("Mailbox/get", new { accountId = acc }), "drafts");
        var draft = (await jmap.CallAsync("Email/set", new JsonObject
        {
            ["accountId"] = acc,
            ["create"] = new JsonObject
            {
                ["d"] = JsonNode.Parse("""{"mailboxIds":{"DRAFTS":true},"keywords":{"$draft":true},"from":[{"name":"Me","email":"USER"}],"to":[{"email":"bob@example.com"}],"subject":"草稿 draft","textBody":[{"partId":"t","type":"text/plain"}],"bodyValues":{"t":{"value":"你好 Bob"}}}""".Replace("DRAFTS", draftsId).Replace("USER", user)),
            },
        })).Of("Email/set");
        var draftId = (string)draft["created"]!["d"]!["id"]!;
        var readBack = (await jmap.CallAsync("Email/get", new { accountId = acc, ids = new[] { draftId }, properties = new[] { "subject", "keywords", "mailboxIds", "to" }, fetchTextBodyValues = true })).Of("Email/get")["list"]![0]!;
        Assert.Equal("草稿 draft", (string)readBack["subject"]!);
        Assert.True((bool)readBack["keywords"]!["$draft"]!);
        Assert.Equal("bob@example.com", (string)readBack["to"]![0]!["email"]!);
        var destroyed = (await jmap.CallAsync("Email/set", new { accountId = acc, destroy = ids.Append(draftId).Append("Mnothere").ToArray() })).Of("Email/set");
        Assert.Equal(6, ((JsonArray)destroyed["destroyed"]!).Count);
        Assert.Equal("notFound", (string)destroyed["notDestroyed"]!["Mnothere"]!["type"]!);
        var left = ((JsonArray)(await jmap.CallAsync("Email/query", new { accountId = acc })).Of("Email/query")["ids"]!).Select(x => (string)x!);
        Assert.Empty(left.Intersect(ids.Append(draftId)));
    }

    [Fact]
    public async Task Method_errors_have_their_rfc_types()
    {
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var acc = jmap.AccountId;
        var state = (string)(await jmap.CallAsync("Mailbox/get", new { accountId = acc })).Of("Mailbox/get")["state"]!;
        var maxGet = (int)jmap.Session["capabilities"]![JmapClient.Core]!["maxObjectsInGet"]!;
        var r = await jmap.RequestAsync([JmapClient.Core, JmapClient.Mail],
            ("Mailbox/get", new { accountId = "Anotmine" }, "account"),
            ("Mailbox/get", new { }, "noAccount"),
            ("Email/get", new { accountId = acc, ids = Enumerable.Range(0, maxGet + 1).Select(i => "M" + i).ToArray() }, "tooLarge"),
            ("Email/get", new { accountId = acc, ids = new[] { "M1" }, properties = new[] { "nonsense" } }, "badProperty"),
            ("Email/query", new { accountId = acc, filter = new { colour = "red" } }, "filter"),
            ("Email/query", new { accountId = acc, sort = new[] { new { property = "colour" } } }, "sort"),
            ("Email/query", new { accountId = acc, anchor = "Mnothere" }, "anchor"),
            ("Email/set", new { accountId = acc, ifInState = "old" }, "state"),
            ("Mailbox/changes", new { accountId = acc, sinceState = "garbage" }, "changes"),
            ("Email/copy", new { accountId = acc, fromAccountId = "Aelsewhere", create = new { } }, "copy"),
            ("Email/get", new { accountId = acc, ids = "M1" }, "badType"));
        Assert.Equal("accountNotFound", r.ErrorType("account"));
        Assert.Equal("invalidArguments", r.ErrorType("noAccount"));
        Assert.Equal("requestTooLarge", r.ErrorType("tooLarge"));
        Assert.Equal("invalidArguments", r.ErrorType("badProperty"));
        Assert.Equal("unsupportedFilter", r.ErrorType("filter"));
        Assert.Equal("unsupportedSort", r.ErrorType("sort"));
        Assert.Equal("anchorNotFound", r.ErrorType("anchor"));
        Assert.Equal("stateMismatch", r.ErrorType("state"));
        Assert.Equal("cannotCalculateChanges", r.ErrorType("changes"));
        Assert.Equal("fromAccountNotFound", r.ErrorType("copy"));
        Assert.Equal("invalidArguments", r.ErrorType("badType"));
        // Mailbox/set errors per object; INBOX cannot go.
        var inboxId = Role(await jmap.CallAsync("Mailbox/get", new { accountId = acc }), "inbox");
        var set = (await jmap.CallAsync("Mailbox/set", new { accountId = acc, create = new { bad = new { name = "a/b" } }, destroy = new[] { inboxId } })).Of("Mailbox/set");
        Assert.Equal("invalidProperties", (string)set["notCreated"]!["bad"]!["type"]!);
        Assert.Equal("forbidden", (string)set["notDestroyed"]![inboxId]!["type"]!);
        Assert.Equal(state, (string)set["oldState"]!);
    }

    [Fact]
    public async Task A_page_of_uncached_summaries_is_read_in_one_batch_each_email_with_its_own_content()
    {
        // Email/get of list properties reads the summaries a page lacks in one batch (issue 18, session 9): every Email
        // must get its own subject, from and preview back (a batch answered out of order would mix them), one of them
        // larger than a blob chunk (256 KiB, several chunks in the batch's one statement). Server-Timing says how many
        // were missing: all 60 the first time, none the second.
        var user = await fixture.NewAccountAsync();
        using var jmap = await fixture.LoginAsync(user);
        var acc = jmap.AccountId;
        using var imap = await ImapAsync(user);
        await imap.Inbox.OpenAsync(FolderAccess.ReadWrite);
        var tag = Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 60; i++)
        {
            var m = new MimeMessage { Subject = $"Batch {tag} {i}", MessageId = $"batch-{i}-{tag}@example.com" };
            m.From.Add(new MailboxAddress($"Sender {i}", $"sender{i}@example.com"));
            var text = $"Body number {i} of {tag}." + (i == 7 ? " " + new string('x', 600_000) : "");
            m.Body = new TextPart("plain") { Text = text };
            await imap.Inbox.AppendAsync(m, MessageFlags.None);
        }
        var inboxId = Role(await jmap.CallAsync("Mailbox/get", new { accountId = acc }), "inbox");
        var body = new JsonObject
        {
            ["using"] = new JsonArray(JmapClient.Core, JmapClient.Mail),
            ["methodCalls"] = new JsonArray(
                new JsonArray("Email/query", new JsonObject
                {
                    ["accountId"] = acc,
                    ["filter"] = new JsonObject { ["inMailbox"] = inboxId },
                    ["sort"] = new JsonArray(new JsonObject { ["property"] = "receivedAt", ["isAscending"] = false }),
                    ["limit"] = 60,
                }, "q"),
                new JsonArray("Email/get", new JsonObject
                {
                    ["accountId"] = acc,
                    ["#ids"] = new JsonObject { ["resultOf"] = "q", ["name"] = "Email/query", ["path"] = "/ids" },
                    ["properties"] = new JsonArray("subject", "from", "preview", "messageId", "hasAttachment"),
                }, "g")),
        };
        async Task<(JsonArray List, string Timing)> PageAsync()
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var r = await jmap.Http.PostAsync("/jmap/api", content);
            Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
            var json = new JmapResponse((JsonObject)JsonNode.Parse(await r.Content.ReadAsStringAsync())!);
            return ((JsonArray)json.Of("Email/get", "g")["list"]!, string.Join(", ", r.Headers.GetValues("Server-Timing")));
        }
        var (list, timing) = await PageAsync();
        Assert.Equal(60, list.Count);
        // The process's GC figures are the operator's to turn on (GrainMail:Jmap:ServerTimingGc), not every user's to read.
        Assert.DoesNotContain("gcpause", timing);
        foreach (var e in list)
        {
            var i = int.Parse(((string)e!["subject"]!).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal($"Batch {tag} {i}", (string)e["subject"]!);
            Assert.Equal($"sender{i}@example.com", (string)e["from"]![0]!["email"]!);
            Assert.Equal($"batch-{i}-{tag}@example.com", (string)e["messageId"]![0]!);
            Assert.StartsWith($"Body number {i} of {tag}.", (string)e["preview"]!);
            Assert.False((bool)e["hasAttachment"]!);
        }
        Assert.Contains("miss;dur=60", timing);
        Assert.Contains("blob;dur=", timing);
        var (again, cached) = await PageAsync();
        Assert.Equal(list.ToJsonString(), again.ToJsonString());
        Assert.Contains("miss;dur=0", cached);
        await imap.DisconnectAsync(true);
    }
}
