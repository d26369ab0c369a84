using System.Text;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Operations;
using GrainMail.Grains.Governance;
using GrainMail.Tests.Infrastructure;
using MimeKit;
using Npgsql;
using Orleans.Concurrency;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// Governance on the silos with a clock the test moves (<see cref="GovernanceClock"/>): outbound
/// approval (hold, notice, approve, reject, expiry, a cluster restart while held), the monitoring
/// rules, and retention through the mailbox grains. Submissions go through the intake grain exactly
/// as the SMTP gateway hands them over.
/// </summary>
public sealed class GovernanceClusterTests(PostgresServer pg)
{
    private const string D = "gov.test";
    private const string Alice = "alice@gov.test", Bob = "bob@gov.test", Boss = "boss@gov.test", Carol = "carol@gov.test", Dave = "dave@gov.test";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly GovernanceActor Admin = new("super", "super", "127.0.0.1");

    private static async Task SetUpAsync(InProcessTestCluster cluster)
    {
        var domain = cluster.Client.GetGrain<IDomainGrain>(D);
        await domain.Create(DomainSettings.Default("local"));
        foreach (var lp in new[] { "alice", "bob", "boss", "carol", "dave" })
            Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount(lp, "password1", null, null))).Status);
    }

    private static ApprovalRule Rule(string keyword, TimeSpan expire) =>
        new(0, "confidential mail", [], [], false, [], false, null, [keyword], [], Boss, expire, "nobody approved it within the hour");

    private static byte[] Message(string from, string to, string subject, string body)
    {
        var m = new MimeMessage();
        m.From.Add(MailboxAddress.Parse(from));
        m.To.Add(MailboxAddress.Parse(to));
        m.Subject = subject;
        m.MessageId = $"{Guid.NewGuid():N}@gov.test";
        m.Body = new TextPart("plain") { Text = body };
        using var ms = new MemoryStream();
        m.WriteTo(ms);
        return ms.ToArray();
    }

    private static Task<SubmitReceipt> SubmitAsync(InProcessTestCluster cluster, string from, string to, string subject, string body) =>
        cluster.Client.GetGrain<IMessageIntakeGrain>(0).Submit(new SubmissionEnvelope(from, [to], AuthenticatedUser: from),
            Message(from, to, subject, body).AsImmutable());

    private static async Task<List<string>> InboxTexts(InProcessTestCluster cluster, string address, string folder = "INBOX")
    {
        var metas = await cluster.Client.GetGrain<IMailboxGrain>(address).GetMessages(folder, 1, long.MaxValue);
        var texts = new List<string>();
        foreach (var m in metas) texts.Add(Encoding.UTF8.GetString((await cluster.Client.GetGrain<IMessageBlobGrain>(0).Read(m.Blob))!.Value.Value));
        return texts;
    }

    private static async Task<List<string>> WaitForInbox(InProcessTestCluster cluster, string address, int count) =>
        await Eventually.Value(() => InboxTexts(cluster, address), t => t.Count >= count, Wait, $"{count} message(s) in {address}");

    private static async Task<List<string>> SentLogOutcomes(InProcessTestCluster cluster, string sender) =>
        (await cluster.Client.GetGrain<IAdminViewGrain>(0).SentLog(sender, 100)).Select(a => $"{a.Recipient} {a.Outcome}").ToList();

    private static async Task<long> Scalar(string db, string sql)
    {
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand(sql);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_held_message_waits_for_its_reviewer_and_approval_delivers_it_once()
    {
        var db = await pg.NewDatabaseAsync("govok");
        await using var cluster = await TestSilos.StartAsync(db);
        await SetUpAsync(cluster);
        await cluster.Client.GetGrain<IGovernanceGrain>(D).AddRule(Rule("confidential", TimeSpan.FromHours(1)), Admin);

        var plain = await SubmitAsync(cluster, Alice, Bob, "lunch", "see you at noon");
        var held = await SubmitAsync(cluster, Alice, Bob, "Confidential: merger", "the numbers");
        Assert.Equal(0, held.Events); // nothing queued for delivery

        var notice = (await WaitForInbox(cluster, Boss, 1)).Single();
        Assert.Contains("Approval needed: Confidential: merger", notice);
        Assert.Contains(held.MessageId.ToString(), notice);
        var pending = (await cluster.Client.GetGrain<IApprovalGrain>(D).List()).Single();
        Assert.Equal((held.MessageId, Alice, Boss), (pending.Id, pending.Account, pending.Reviewer));
        Assert.Contains($"{Bob} pending approval", await SentLogOutcomes(cluster, Alice));
        Assert.Contains("lunch", (await WaitForInbox(cluster, Bob, 1)).Single());

        Assert.Equal(ApprovalDecisionStatus.Done, await cluster.Client.GetGrain<IApprovalGrain>(D).Approve(held.MessageId, Admin));
        Assert.Equal(ApprovalDecisionStatus.NotFound, await cluster.Client.GetGrain<IApprovalGrain>(D).Approve(held.MessageId, Admin));
        var bobs = await WaitForInbox(cluster, Bob, 2);
        Assert.Contains(bobs, t => t.Contains("Subject: Confidential: merger"));
        Assert.Contains($"{Bob} approved", await SentLogOutcomes(cluster, Alice));
        Assert.Empty(await cluster.Client.GetGrain<IApprovalGrain>(D).List());
        // The held copy's reference went with the row; the delivered copy holds its own.
        Assert.Equal(0, await Scalar(db, "SELECT count(*) FROM approval_held"));
        Assert.Equal(1, await Scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'governance.approval.approve' AND actor = 'super'"));
        Assert.Equal(2, (await InboxTexts(cluster, Bob)).Count);
        Assert.NotEqual(Guid.Empty, plain.MessageId);
    }

    [Fact]
    public async Task Rejection_returns_the_message_to_its_sender_with_the_reason_and_expiry_does_the_same()
    {
        var db = await pg.NewDatabaseAsync("govrej");
        await using var cluster = await TestSilos.StartAsync(db);
        await SetUpAsync(cluster);
        var approvals = cluster.Client.GetGrain<IApprovalGrain>(D);
        await cluster.Client.GetGrain<IGovernanceGrain>(D).AddRule(Rule("secret", TimeSpan.FromHours(1)), Admin);

        var rejected = await SubmitAsync(cluster, Alice, Bob, "the secret plan", "text");
        Assert.Equal(ApprovalDecisionStatus.Done, await approvals.Reject(rejected.MessageId, "not to be shared outside the board", Admin));
        var dsn = (await WaitForInbox(cluster, Alice, 1)).Single();
        Assert.Contains("multipart/report", dsn);
        Assert.Contains("not to be shared outside the board", dsn);
        Assert.Contains($"{Bob} rejected", await SentLogOutcomes(cluster, Alice));

        var late = await SubmitAsync(cluster, Alice, Carol, "another secret", "text");
        Assert.Equal(0, await approvals.ExpireDue()); // not yet
        cluster.Service<GovernanceClock>().Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(1, await approvals.ExpireDue());
        var reports = await WaitForInbox(cluster, Alice, 2);
        Assert.Contains(reports, r => r.Contains("nobody approved it within the hour"));
        Assert.Contains($"{Carol} expired", await SentLogOutcomes(cluster, Alice));
        Assert.Empty(await InboxTexts(cluster, Bob));
        Assert.Empty(await InboxTexts(cluster, Carol));
        Assert.Equal(ApprovalDecisionStatus.NotFound, await approvals.Approve(late.MessageId, Admin));
        // Both held copies' blobs were released: only the reports, the notices and nothing else remain referenced.
        Assert.Equal(0, await Scalar(db, "SELECT count(*) FROM approval_held"));
        Assert.Equal(1, await Scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'governance.approval.expire'"));
    }

    // The second cluster is the same service on the same database (TestSilos keeps the service id), as a
    // restarted production cluster is: the grain state of the domain and its accounts is still there.
    [Fact]
    public async Task A_held_message_survives_a_restart_of_the_whole_cluster_and_is_then_approved()
    {
        var db = await pg.NewDatabaseAsync("govfail");
        Guid id;
        var first = await TestSilos.StartAsync(db);
        try
        {
            await SetUpAsync(first);
            await first.Client.GetGrain<IGovernanceGrain>(D).AddRule(Rule("quarterly", TimeSpan.FromHours(1)), Admin);
            id = (await SubmitAsync(first, Alice, Dave, "quarterly figures", "q3")).MessageId;
            await WaitForInbox(first, Boss, 1);
        }
        finally
        {
            await first.DisposeAsync();
        }
        Assert.Equal(1, await Scalar(db, "SELECT count(*) FROM approval_held"));

        await using var second = await TestSilos.StartAsync(db);
        Assert.Equal(id, (await second.Client.GetGrain<IApprovalGrain>(D).List()).Single().Id);
        Assert.Equal(ApprovalDecisionStatus.Done, await second.Client.GetGrain<IApprovalGrain>(D).Approve(id, Admin));
        Assert.Contains("Subject: quarterly figures", (await WaitForInbox(second, Dave, 1)).Single());
        Assert.Contains($"{Dave} approved", await SentLogOutcomes(second, Alice));
        Assert.Equal(0, await Scalar(db, "SELECT count(*) FROM approval_held"));
        Assert.Equal(0, await Scalar(db, "SELECT count(*) FROM stream_dead_letter"));
    }

    [Fact]
    public async Task Monitoring_needs_the_owner_s_authorisation_and_refuses_self_second_master_and_cycles()
    {
        var db = await pg.NewDatabaseAsync("govmon");
        await using var cluster = await TestSilos.StartAsync(db);
        await SetUpAsync(cluster);
        var g = cluster.Client.GetGrain<IGovernanceGrain>(D);
        Assert.Equal(MonitoringStatus.NotAuthorised, await g.AddMonitoring(Alice, Bob, Admin));
        await g.SetMonitoring(true, Boss, Admin);

        Assert.Equal(MonitoringStatus.Ok, await g.AddMonitoring(Alice, Bob, Admin));      // bob monitors alice
        Assert.Equal(MonitoringStatus.SelfMonitoring, await g.AddMonitoring(Carol, Carol, Admin));
        Assert.Equal(MonitoringStatus.AlreadyHasMaster, await g.AddMonitoring(Alice, Carol, Admin));
        Assert.Equal(MonitoringStatus.Ok, await g.AddMonitoring(Bob, Carol, Admin));      // a monitored account may be a master
        Assert.Equal(MonitoringStatus.Cycle, await g.AddMonitoring(Carol, Alice, Admin)); // alice→bob→carol→alice
        Assert.Equal(MonitoringStatus.NoSuchAccount, await g.AddMonitoring("ghost@gov.test", Carol, Admin));
        Assert.Equal(MonitoringStatus.NotInDomain, await g.AddMonitoring("x@other.test", Carol, Admin));
        Assert.Equal(MonitoringStatus.Ok, await g.RemoveMonitoring(Bob, Admin));
        Assert.Equal(MonitoringStatus.Ok, await g.AddMonitoring(Carol, Alice, Admin));    // no chain any more
        Assert.Equal([(Alice, Bob), (Carol, Alice)], (await g.ListMonitoring()).Select(m => (m.Monitored, m.Master)));

        // The reviewer hears of every relation made or removed: three made, one removed.
        var notices = await WaitForInbox(cluster, Boss, 4);
        Assert.Equal(3, notices.Count(n => n.Contains("Monitoring relation created")));
        Assert.Single(notices, n => n.Contains("Monitoring relation removed: carol@gov.test monitors bob@gov.test"));
        // Six refusals: not authorised, self, second master, cycle, no such account, another domain.
        Assert.Equal(6, await Scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'governance.monitoring.add' AND result <> 'ok'"));

        // Copies: received and sent mail of a monitored account reach its master, once each.
        await SubmitAsync(cluster, Dave, Alice, "to alice", "in");
        await SubmitAsync(cluster, Alice, Dave, "from alice", "out");
        var bobs = await WaitForInbox(cluster, Bob, 2);
        Assert.Single(bobs, t => t.Contains("Subject: to alice"));
        Assert.Single(bobs, t => t.Contains("Subject: from alice"));
    }

    [Fact]
    public async Task Retention_removes_what_has_been_in_a_folder_too_long_through_the_mailbox_grain()
    {
        var db = await pg.NewDatabaseAsync("govret");
        await using var cluster = await TestSilos.StartAsync(db);
        await SetUpAsync(cluster);
        var box = cluster.Client.GetGrain<IMailboxGrain>(Carol);
        Assert.Equal(MailboxOpStatus.Ok, (await box.CreateFolder("Projects")).Status);
        async Task Put(string folder, string subject) =>
            Assert.Equal(MailboxOpStatus.Ok, (await box.Append(folder, Message(Dave, Carol, subject, "x"), MessageFlags.Seen, [],
                DateTimeOffset.UtcNow.AddDays(-400))).Status);
        await Put("INBOX", "kept forever");
        await Put("Trash", "deleted");
        await Put("Junk", "spam");
        await Put("Projects", "project");
        await cluster.Client.GetGrain<IGovernanceGrain>(D).SetRetention(new Dictionary<string, int> { ["Projects"] = 10, ["Junk"] = 0 }, Admin);
        var retention = cluster.Client.GetGrain<IRetentionGrain>(D);
        var clock = cluster.Service<GovernanceClock>();

        Assert.Equal(0, await retention.Sweep()); // everything was filed just now, whatever its date
        clock.Advance(TimeSpan.FromDays(11));
        Assert.Equal(1, await retention.Sweep());
        Assert.Empty(await box.GetMessages("Projects", 1, long.MaxValue));
        Assert.Single(await box.GetMessages("Trash", 1, long.MaxValue));
        clock.Advance(TimeSpan.FromDays(20)); // 31 days: Trash's default of 30 is past
        Assert.Equal(1, await retention.Sweep());
        Assert.Empty(await box.GetMessages("Trash", 1, long.MaxValue));
        Assert.Single(await box.GetMessages("Junk", 1, long.MaxValue)); // 0: this domain keeps Junk
        Assert.Single(await box.GetMessages("INBOX", 1, long.MaxValue));
        Assert.Equal(2, (await box.GetQuota()).Messages);
    }
}
