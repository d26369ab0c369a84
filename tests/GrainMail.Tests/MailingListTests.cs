using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GrainMail.Contracts.Lists;
using GrainMail.Storage.Blobs;
using GrainMail.Tests.Infrastructure;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host with a fake remote MX (remote.test) so that external list members can be observed.</summary>
public sealed class MailingListHostFixture : SmtpHostFixture
{
    public TestDnsServer Dns { get; } = new();
    public FakeSmtpServer Remote { get; } = new();

    public MailingListHostFixture()
    {
        Dns.Mx["remote.test"] = [(10, "mx.remote.test")];
        Dns.A["mx.remote.test"] = IPAddress.Loopback;
    }

    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GRAINMAIL_DNS"] = $"127.0.0.1:{Dns.Port}",
        ["GRAINMAIL_SMTP_OUT_PORT"] = Remote.Port.ToString(),
        ["GrainMail__OutboundRetrySchedule__0"] = "00:00:01",
        // Small batches and a small backlog, so that a few members already take several paced batches.
        ["GrainMail__Lists__ExpansionBatch"] = "3",
        ["GrainMail__Lists__PacedBacklog"] = "1",
    };
}

/// <summary>
/// Mailing lists end to end: the admin API creates them, real SMTP over TCP (MailKit) posts to
/// them, RCPT enforces each post policy, the list's grain expands posts into member copies with
/// the list headers (local mailboxes, and the outbound path for external members), moderation
/// holds posts until approved by API or by mail, and loops and redeliveries deliver nothing twice.
/// </summary>
public sealed class MailingListTests(MailingListHostFixture host) : IClassFixture<MailingListHostFixture>
{
    private const string D = SmtpHostFixture.Domain;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static SmtpClient Client() => new() { ServerCertificateValidationCallback = (_, _, _, _) => true, Timeout = 30_000 };

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    private async Task<string> NewAccount(string prefix)
    {
        var lp = Unique(prefix);
        await host.NewAccount(lp);
        return $"{lp}@{D}";
    }

    private async Task<string> NewList(string policy, string[]? senders = null, string[]? moderators = null, string? displayName = null)
    {
        var name = Unique("list");
        var r = await host.Post($"/api/v1/domains/{D}/lists", new { name, displayName, postPolicy = policy, senders, moderators });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return $"{name}@{D}";
    }

    private async Task AddMember(string list, object member)
    {
        var r = await host.Post($"/api/v1/domains/{D}/lists/{list.Split('@')[0]}/members", member);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
    }

    private static MimeMessage Message(string from, string to, string subject, params (string Name, string Value)[] extra)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        foreach (var (name, value) in extra) m.Headers.Add(name, value);
        m.Body = new TextPart("plain") { Text = $"A post about {subject}.\r\n" };
        return m;
    }

    /// <summary>Port 25, no authentication (another MTA).</summary>
    private async Task<string> SendMx(string from, string to, string subject, params (string, string)[] extra)
    {
        using var c = Client();
        await c.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
        var reply = await c.SendAsync(Message(from, to, subject, extra));
        await c.DisconnectAsync(true);
        return reply;
    }

    /// <summary>Port 465 as an authenticated account.</summary>
    private async Task<string> Submit(string user, string to, string subject)
    {
        using var c = Client();
        await c.ConnectAsync("127.0.0.1", host.Submissions, SecureSocketOptions.SslOnConnect);
        await c.AuthenticateAsync(user, SmtpHostFixture.Password);
        var reply = await c.SendAsync(Message(user, to, subject));
        await c.DisconnectAsync(true);
        return reply;
    }

    private static async Task AssertRefusedAtRcpt(Func<Task> send)
    {
        var e = await Assert.ThrowsAsync<SmtpCommandException>(send);
        Assert.Equal(SmtpErrorCode.RecipientNotAccepted, e.ErrorCode);
        Assert.Equal(550, (int)e.StatusCode);
        Assert.Contains("5.7.1", e.Message);
    }

    private static string Text(byte[] raw) => Encoding.UTF8.GetString(raw);

    private async Task<long> Scalar(string sql, params (string Name, object Value)[] args)
    {
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand(sql);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    /// <summary>No list event of <paramref name="list"/> and no member event for <paramref name="member"/> is still queued.</summary>
    private async Task WaitForQuiet(string list, string member) =>
        await Eventually.Until(async () => await Scalar(
                "SELECT count(*) FROM stream_queue WHERE (stream_ns = 'list' AND stream_key = @l) OR (stream_ns = 'inbound' AND stream_key = @m)",
                ("l", list), ("m", member)) == 0,
            Wait, $"the queues of {list} and {member} to drain");

    [Fact]
    public async Task Anyone_may_post_and_members_get_a_copy_with_the_list_headers()
    {
        var member = await NewAccount("m");
        var list = await NewList("anyone", displayName: "Sales team");
        await AddMember(list, new { account = member });
        Assert.StartsWith("2.0.0", await SendMx("stranger@elsewhere.example", list, "hello list"));
        var copy = Text((await host.WaitForMessages(member, 1)).Single());
        var name = list.Split('@')[0];
        Assert.StartsWith($"Return-Path: <{name}-owner@{D}>\r\n", copy);
        Assert.Contains($"List-Id: \"Sales team\" <{name}.{D}>\r\n", copy);
        Assert.Contains($"List-Post: <mailto:{list}>\r\n", copy);
        Assert.Contains($"List-Unsubscribe: <mailto:{name}-owner@{D}?subject=unsubscribe>\r\n", copy);
        Assert.Contains($"X-Loop: {list}\r\n", copy);
        Assert.Contains("Subject: hello list", copy);
        // The original's own Return-Path is replaced, not repeated.
        Assert.Single(copy.Split("\r\n"), l => l.StartsWith("Return-Path:", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Domain_policy_takes_authenticated_senders_of_the_domain_and_refuses_the_rest_at_RCPT()
    {
        var member = await NewAccount("m");
        var poster = await NewAccount("p");
        var list = await NewList("domain");
        await AddMember(list, new { account = member });
        await Submit(poster, list, "from inside");
        await host.WaitForMessages(member, 1);
        await AssertRefusedAtRcpt(() => SendMx("someone@elsewhere.example", list, "from outside"));
        // MX mail claiming an internal sender is not authenticated: it does not count as the domain.
        await AssertRefusedAtRcpt(() => SendMx(poster, list, "forged inside"));
    }

    [Fact]
    public async Task Members_policy_takes_members_only_including_external_members_by_MX()
    {
        var member = await NewAccount("m");
        var outsider = await NewAccount("o");
        var list = await NewList("members");
        await AddMember(list, new { account = member });
        await AddMember(list, new { external = "partner@remote.test" });
        await Submit(member, list, "member post");
        await host.WaitForMessages(member, 1);
        await AssertRefusedAtRcpt(() => Submit(outsider, list, "not a member"));
        Assert.StartsWith("2.0.0", await SendMx("partner@remote.test", list, "external member post"));
        await host.WaitForMessages(member, 2);
        await AssertRefusedAtRcpt(() => SendMx("intruder@remote.test", list, "external non-member"));
        await AssertRefusedAtRcpt(() => SendMx(member, list, "member address forged on MX"));
    }

    [Fact]
    public async Task Senders_policy_takes_the_named_senders_only()
    {
        var member = await NewAccount("m");
        var named = await NewAccount("s");
        var other = await NewAccount("o");
        var list = await NewList("senders", senders: [named]);
        await AddMember(list, new { account = member });
        await Submit(named, list, "announcement");
        await host.WaitForMessages(member, 1);
        await AssertRefusedAtRcpt(() => Submit(other, list, "not named"));
    }

    [Fact]
    public async Task A_department_member_is_followed_as_the_department_changes()
    {
        var seed = new DirectorySeed(host.ConnectionString);
        var dept = Unique("Sales");
        var sales = await seed.DepartmentAsync(D, dept);
        var east = await seed.DepartmentAsync(D, dept, "East");
        var engineering = await seed.DepartmentAsync(D, Unique("Engineering"));
        var first = await NewAccount("d");
        var second = await NewAccount("d");
        await seed.AccountAsync(D, first.Split('@')[0], east);
        await seed.AccountAsync(D, second.Split('@')[0], engineering);
        var list = await NewList("anyone");
        await AddMember(list, new { department = sales });

        await SendMx("news@elsewhere.example", list, "before the move");
        await host.WaitForMessages(first, 1);
        // The first leaves the department's subtree, the second joins it: the next post follows.
        await seed.AccountAsync(D, first.Split('@')[0], engineering);
        await seed.AccountAsync(D, second.Split('@')[0], sales);
        await SendMx("news@elsewhere.example", list, "after the move");
        var got = await host.WaitForMessages(second, 1);
        Assert.Contains("Subject: after the move", Text(got.Single()));
        // Both copies of one expansion are committed together: once the second is delivered
        // and nothing is queued for the first, the first has not been sent another.
        await WaitForQuiet(list, first);
        Assert.Equal(1, await host.InboxCount(first));
    }

    [Fact]
    public async Task An_external_member_gets_the_copy_through_the_outbound_path()
    {
        var list = await NewList("anyone");
        var external = Unique("ext") + "@remote.test";
        await AddMember(list, new { external });
        await SendMx("someone@elsewhere.example", list, "to the partners");
        ReceivedMessage? hit = null;
        await Eventually.Until(() => (hit = host.Remote.Received.FirstOrDefault(r => r.To.Contains(external))) is not null, Wait,
            $"the copy for {external} at the remote");
        Assert.Equal($"{list.Split('@')[0]}-owner@{D}", hit!.From);
        Assert.Contains($"List-Id: <{list.Split('@')[0]}.{D}>", Text(hit.Data));
    }

    [Fact]
    public async Task A_message_that_already_went_through_the_list_is_refused_as_a_loop()
    {
        var member = await NewAccount("m");
        var list = await NewList("anyone");
        await AddMember(list, new { account = member });
        var name = list.Split('@')[0];
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            SendMx("member-forward@elsewhere.example", list, "round again", ("List-Id", $"<{name}.{D}>")));
        Assert.Equal(554, (int)e.StatusCode);
        Assert.Contains("5.4.6", e.Message);
        var again = await Assert.ThrowsAsync<SmtpCommandException>(() =>
            SendMx("member-forward@elsewhere.example", list, "round again", ("X-Loop", list)));
        Assert.Contains("5.4.6", again.Message);
        // Another list's List-Id is no loop for this one.
        await SendMx("digest@elsewhere.example", list, "from another list", ("List-Id", "<other.example.org>"));
        await host.WaitForMessages(member, 1);
        Assert.Equal(0, await Scalar("SELECT count(*) FROM mailing_list_held"));
    }

    private async Task<List<JsonElement>> Held(string list) =>
        await host.Host.Http.GetFromJsonAsync<List<JsonElement>>($"/api/v1/domains/{D}/lists/{list.Split('@')[0]}/held") ?? [];

    private async Task<JsonElement> WaitForHeld(string list, string subject) =>
        (await Eventually.Value(() => Held(list), h => h.Any(x => x.GetProperty("subject").GetString() == subject), Wait, $"{subject} held"))
            .First(x => x.GetProperty("subject").GetString() == subject);

    [Fact]
    public async Task A_moderated_post_is_held_until_approved_by_API_and_a_rejected_one_is_discarded()
    {
        var member = await NewAccount("m");
        var moderator = await NewAccount("mod");
        var list = await NewList("moderated", moderators: [moderator]);
        await AddMember(list, new { account = member });
        var name = list.Split('@')[0];

        Assert.StartsWith("2.0.0", await SendMx("writer@elsewhere.example", list, "please publish"));
        var held = await WaitForHeld(list, "please publish");
        Assert.Equal("writer@elsewhere.example", held.GetProperty("sender").GetString());
        // The moderator is told; the member has nothing yet.
        var notice = Text((await host.WaitForMessages(moderator, 1)).Single());
        Assert.Contains("Held for " + list, notice);
        Assert.Equal(0, await host.InboxCount(member));

        var approve = await host.Post($"/api/v1/domains/{D}/lists/{name}/held/{held.GetProperty("id").GetGuid()}/approve", new { });
        Assert.Equal(HttpStatusCode.NoContent, approve.StatusCode);
        Assert.Contains("Subject: please publish", Text((await host.WaitForMessages(member, 1)).Single()));
        Assert.Empty(await Held(list));

        await SendMx("writer@elsewhere.example", list, "spam spam");
        var spam = await WaitForHeld(list, "spam spam");
        var id = spam.GetProperty("id").GetGuid();
        var hash = await HeldBlob(id);
        Assert.Equal(1, await BlobReferences(hash));
        var reject = await host.Post($"/api/v1/domains/{D}/lists/{name}/held/{id}/reject", new { });
        Assert.Equal(HttpStatusCode.NoContent, reject.StatusCode);
        Assert.Empty(await Held(list));
        // Discarded: the held reference was the last one, so the blob is gone.
        Assert.Equal(0, await BlobReferences(hash));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Post($"/api/v1/domains/{D}/lists/{name}/held/{id}/approve", new { })).StatusCode);
        Assert.Equal(1, await host.InboxCount(member));
    }

    private async Task<byte[]> HeldBlob(Guid id)
    {
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using var cmd = ds.CreateCommand("SELECT blob_hash FROM mailing_list_held WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        return (byte[])(await cmd.ExecuteScalarAsync())!;
    }

    private Task<long> BlobReferences(byte[] hash) =>
        Scalar("SELECT coalesce(sum(refcount), 0) FROM blob WHERE domain = @d AND hash = @h", ("d", D), ("h", hash));

    [Fact]
    public async Task A_moderator_approves_by_replying_to_the_notice()
    {
        var member = await NewAccount("m");
        var moderator = await NewAccount("mod");
        var other = await NewAccount("o");
        var list = await NewList("moderated", moderators: [moderator]);
        await AddMember(list, new { account = member });
        await SendMx("writer@elsewhere.example", list, "approve me by mail");
        var notice = MimeMessage.Load(new MemoryStream((await host.WaitForMessages(moderator, 1)).Single()));
        var approveAddress = notice.ReplyTo.Mailboxes.Single().Address;
        Assert.StartsWith(list.Split('@')[0] + "+approve-", approveAddress);

        // Only a moderator may use the address (knowing it is not enough).
        await AssertRefusedAtRcpt(() => Submit(other, approveAddress, "Re: " + notice.Subject));
        Assert.Single(await Held(list));
        await Submit(moderator, approveAddress, "Re: " + notice.Subject);
        Assert.Contains("Subject: approve me by mail", Text((await host.WaitForMessages(member, 1)).Single()));
        Assert.Empty(await Held(list));
    }

    [Fact]
    public async Task A_list_event_handed_out_twice_delivers_once_and_releases_both_references()
    {
        var member = await NewAccount("m");
        var list = await NewList("anyone");
        await AddMember(list, new { account = member });
        var raw = Encoding.ASCII.GetBytes($"From: a@elsewhere.example\r\nTo: {list}\r\nSubject: twice\r\nMessage-ID: <{Guid.NewGuid():N}@x>\r\n\r\nbody\r\n");
        var hash = BlobStore.Hash(raw);
        var e = new ListDeliveryEvent(Guid.CreateVersion7(), 0, list, "a@elsewhere.example", D, hash, raw.Length, DateTimeOffset.UtcNow, 0);
        // The same event twice, each row holding a reference, as after an operator's redelivery
        // or a lease that ran out while the first attempt was still expanding.
        await using (var ds = NpgsqlDataSource.Create(host.ConnectionString))
        {
            var blobs = new BlobStore(ds, new KeyRing(ds, MasterKey.LoadOrCreate(Path.Combine(host.DataDir, "master.key"))));
            var mapper = new GrainMail.Storage.Streams.PgStreamQueueMapper(8);
            var payload = new GrainMail.Storage.Delivery.EventCodec().Encode(e);
            var partition = mapper.PartitionOf(Orleans.Runtime.StreamId.Create(ListStreams.Namespace, list));
            await using var conn = await ds.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await blobs.AddReferencesAsync(conn, tx, D, hash, raw, 2);
            await GrainMail.Storage.Streams.StreamQueueStore.EnqueueAsync(conn,
                [new(partition, ListStreams.Namespace, list, payload), new(partition, ListStreams.Namespace, list, payload)]);
            await tx.CommitAsync();
        }
        await host.WaitForMessages(member, 1);
        await WaitForQuiet(list, member);
        Assert.Equal(1, await host.InboxCount(member));
        Assert.Equal(0, await BlobReferences(hash));
    }

    [Fact]
    public async Task The_API_manages_lists_members_and_name_clashes()
    {
        var list = await NewList("anyone");
        var name = list.Split('@')[0];
        // A list name is taken for accounts and aliases, and an account's or alias's name for lists.
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post($"/api/v1/domains/{D}/accounts", new { localPart = name, password = SmtpHostFixture.Password })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post($"/api/v1/domains/{D}/aliases", new { alias = name, targets = new[] { $"alice@{D}" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post($"/api/v1/domains/{D}/lists", new { name = "alice", postPolicy = "anyone" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post($"/api/v1/domains/{D}/lists", new { name = "sales", postPolicy = "anyone" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/lists", new { name = Unique("l"), postPolicy = "everyone" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/lists", new { name = Unique("l"), postPolicy = "moderated" })).StatusCode);

        await AddMember(list, new { account = $"alice@{D}" });
        await AddMember(list, new { external = "friend@remote.test" });
        Assert.Equal(HttpStatusCode.Conflict, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { account = $"alice@{D}" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { account = $"nobody@{D}" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { external = $"bob@{D}" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/lists/{name}/members", new { department = 987654321 })).StatusCode);
        var members = await host.Host.Http.GetFromJsonAsync<List<JsonElement>>($"/api/v1/domains/{D}/lists/{name}/members");
        Assert.Equal(2, members!.Count);
        var removed = await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/lists/{name}/members?external=friend@remote.test");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);

        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/domains/{D}/lists/{name}")
        {
            Content = JsonContent.Create(new { postPolicy = "senders", senders = new[] { $"bob@{D}" } }),
        };
        var patched = await host.Host.Http.SendAsync(patch);
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var one = await host.Host.Http.GetFromJsonAsync<JsonElement>($"/api/v1/domains/{D}/lists/{name}");
        Assert.Equal("senders", one.GetProperty("postPolicy").GetString());
        Assert.Equal(1, one.GetProperty("members").GetInt32());
        Assert.Equal($"{name}.{D}", one.GetProperty("listId").GetString());
        await AssertRefusedAtRcpt(() => Submit($"carol@{D}", list, "after the patch"));

        Assert.Contains(await host.Host.Http.GetFromJsonAsync<List<JsonElement>>($"/api/v1/domains/{D}/lists") ?? [],
            l => l.GetProperty("address").GetString() == list);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{D}/lists/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Host.Http.GetAsync($"/api/v1/domains/{D}/lists/{name}")).StatusCode);
        // The name is free again, and the address is no one's.
        var e = await Assert.ThrowsAsync<SmtpCommandException>(() => SendMx("x@elsewhere.example", list, "gone"));
        Assert.Contains("5.1.1", e.Message);
    }

    [Fact]
    public async Task An_alias_that_names_a_list_posts_to_it_beside_its_other_targets()
    {
        var member = await NewAccount("m");
        var other = await NewAccount("o");
        var list = await NewList("anyone");
        await AddMember(list, new { account = member });
        var alias = Unique("team");
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/aliases", new { alias, targets = new[] { list, other } })).StatusCode);

        Assert.StartsWith("2.0.0", await SendMx("stranger@elsewhere.example", $"{alias}@{D}", "through the alias"));
        // The list's member gets the list's copy (its headers), the alias's other target the message itself.
        var copy = Text((await host.WaitForMessages(member, 1)).Single());
        Assert.Contains($"List-Post: <mailto:{list}>\r\n", copy);
        Assert.Contains("Subject: through the alias", copy);
        var direct = Text((await host.WaitForMessages(other, 1)).Single());
        Assert.DoesNotContain("List-Id:", direct);

        // The list's posting rule holds through the alias too.
        var closed = await NewList("members");
        await AddMember(closed, new { account = member });
        var closedAlias = Unique("closed");
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{D}/aliases", new { alias = closedAlias, targets = new[] { closed } })).StatusCode);
        await AssertRefusedAtRcpt(() => SendMx("stranger@elsewhere.example", $"{closedAlias}@{D}", "not a member"));
        await Submit(member, $"{closedAlias}@{D}", "a member through the alias");
        await host.WaitForMessages(member, 2);

        // One alias reaches at most one list of its domain.
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Post($"/api/v1/domains/{D}/aliases", new { alias = Unique("two"), targets = new[] { list, closed } })).StatusCode);
    }

    [Fact]
    public async Task A_domain_is_not_deleted_while_it_has_lists()
    {
        var domain = $"lists{Guid.NewGuid():N}"[..13] + ".test";
        Assert.Equal(HttpStatusCode.Created, (await host.Post("/api/v1/domains", new { name = domain })).StatusCode);
        var name = Unique("l");
        Assert.Equal(HttpStatusCode.Created, (await host.Post($"/api/v1/domains/{domain}/lists", new { name, postPolicy = "anyone" })).StatusCode);

        var refused = await host.Host.Http.DeleteAsync($"/api/v1/domains/{domain}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"{name}@{domain}", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await host.Host.Http.GetAsync($"/api/v1/domains/{domain}/lists/{name}")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{domain}/lists/{name}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Host.Http.DeleteAsync($"/api/v1/domains/{domain}")).StatusCode);
        Assert.Equal(0, await Scalar("SELECT count(*) FROM mailing_list WHERE domain = @d", ("d", domain)));
    }

    [Fact]
    public async Task Renaming_and_moving_a_member_department_keeps_the_list_following_it()
    {
        async Task<long> Department(string name, long? parentId)
        {
            var r = await host.Post($"/api/v1/domains/{D}/departments", new { name, parentId });
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        }
        var sales = await Department(Unique("Sales"), null);
        var holding = await Department(Unique("Holding"), null);
        var member = await NewAccount("r");
        await new DirectorySeed(host.ConnectionString).AccountAsync(D, member.Split('@')[0], sales);
        var list = await NewList("anyone");
        await AddMember(list, new { department = sales });

        var renamed = Unique("Sales and Marketing");
        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/domains/{D}/departments/{sales}")
        {
            Content = JsonContent.Create(new { name = renamed, parentId = holding }),
        };
        var r = await host.Host.Http.SendAsync(patch);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        Assert.Equal(sales, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());

        // The membership is the department's id: it now shows the new name, and posts still reach the subtree.
        var members = await host.Host.Http.GetFromJsonAsync<List<JsonElement>>($"/api/v1/domains/{D}/lists/{list.Split('@')[0]}/members");
        var department = Assert.Single(members!);
        Assert.Equal(sales.ToString(System.Globalization.CultureInfo.InvariantCulture), department.GetProperty("value").GetString());
        Assert.Equal(renamed, department.GetProperty("name").GetString());
        await SendMx("news@elsewhere.example", list, "after the rename");
        Assert.Contains("Subject: after the rename", Text((await host.WaitForMessages(member, 1)).Single()));
    }

    [Fact]
    public async Task A_list_larger_than_a_batch_is_expanded_in_paced_batches_and_every_member_gets_one_copy()
    {
        // The fixture's node expands 3 members per batch and commits the next one only while at most 1 copy is queued.
        var seed = new DirectorySeed(host.ConnectionString);
        var department = await seed.DepartmentAsync(D, Unique("Paced"));
        var members = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var m = await NewAccount("p");
            await seed.AccountAsync(D, m.Split('@')[0], department);
            members.Add(m);
        }
        var list = await NewList("anyone");
        await AddMember(list, new { department });
        Assert.StartsWith("2.0.0", await SendMx("news@elsewhere.example", list, "paced"));
        foreach (var m in members) await host.WaitForMessages(m, 1);
        await Eventually.Until(async () => await Scalar("SELECT count(*) FROM mailing_list_expansion WHERE list_address = @l AND done AND members = 8", ("l", list)) == 1,
            Wait, "the expansion to be marked done");
        foreach (var m in members)
        {
            await WaitForQuiet(list, m);
            Assert.Equal(1, await host.InboxCount(m));
        }
    }

    [Fact]
    public async Task An_expansion_waits_while_more_of_its_copies_are_queued_than_its_window_allows()
    {
        // 3 members per batch, a window of 1 (the fixture). Two members of the first batch also have an
        // inbound event that no agent may lease yet (visible in an hour), as if their mailboxes had fallen
        // behind: their copies count as queued, so the second batch must wait, for up to PacingMaxWait.
        var seed = new DirectorySeed(host.ConnectionString);
        var department = await seed.DepartmentAsync(D, Unique("Window"));
        var members = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var m = await NewAccount("w");
            await seed.AccountAsync(D, m.Split('@')[0], department);
            members.Add(m);
        }
        members.Sort(StringComparer.Ordinal); // the expansion goes through members in address order
        var list = await NewList("anyone");
        await AddMember(list, new { department });
        await using var ds = NpgsqlDataSource.Create(host.ConnectionString);
        await using (var hold = ds.CreateCommand(
            "INSERT INTO stream_queue (queue_id, stream_ns, stream_key, payload, visible_at) " +
            "SELECT 0, 'inbound', m, '\\x00'::bytea, now() + interval '1 hour' FROM unnest(@m) m"))
        {
            hold.Parameters.AddWithValue("m", members.Take(2).ToArray());
            await hold.ExecuteNonQueryAsync();
        }
        try
        {
            Assert.StartsWith("2.0.0", await SendMx("news@elsewhere.example", list, "windowed"));
            foreach (var m in members.Take(3)) await host.WaitForMessages(m, 1);
            // The first batch is delivered, but two of its members still have something queued: no second batch.
            Assert.Equal(1, await Scalar("SELECT count(*) FROM mailing_list_expansion WHERE list_address = @l AND NOT done AND last_member = @m",
                ("l", list), ("m", members[2])));
            foreach (var m in members.Skip(3)) Assert.Equal(0, await host.InboxCount(m));
        }
        finally
        {
            await using var release = ds.CreateCommand("DELETE FROM stream_queue WHERE stream_ns = 'inbound' AND stream_key = ANY(@m) AND visible_at > now() + interval '1 minute'");
            release.Parameters.AddWithValue("m", members.Take(2).ToArray());
            await release.ExecuteNonQueryAsync();
        }
        // Once they drain, the window slides on and everyone gets exactly one copy.
        foreach (var m in members) await host.WaitForMessages(m, 1);
        await Eventually.Until(async () => await Scalar("SELECT count(*) FROM mailing_list_expansion WHERE list_address = @l AND done AND members = 7", ("l", list)) == 1,
            Wait, "the expansion to be marked done");
        foreach (var m in members)
        {
            await WaitForQuiet(list, m);
            Assert.Equal(1, await host.InboxCount(m));
        }
    }
}
