using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Jmap;
using GrainMail.Contracts.Sieve;
using GrainMail.Tests.Infrastructure;
using Npgsql;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// Grains that keep a picture of their rows in memory (a change counter, a set of rows) after a write whose outcome they
/// did not hear: the database died with the COMMIT in flight and the standby promoted in its place had it. Simulated on a
/// real PostgreSQL: the database is closed to connections, the write fails, and the same change is then made behind the
/// grain's back, as if it had landed. The calls after the database is back must see it and succeed; before, each of these
/// grains kept its picture until it happened to be deactivated (MailboxStaleActivationTests is the mailbox's case).
/// </summary>
public sealed class StaleActivationAfterFailedWriteTests(PostgresServer pg)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly GovernanceActor Admin = new("admin@stale.test", "admin", "127.0.0.1");

    private async Task<(InProcessTestCluster Cluster, string Db)> StartAsync(string name)
    {
        var db = await pg.NewDatabaseAsync(name);
        var cluster = await TestSilos.StartAsync(db);
        var domain = cluster.Client.GetGrain<IDomainGrain>("stale.test");
        Assert.Equal(DomainOpStatus.Ok, await domain.Create(DomainSettings.Default("local")));
        foreach (var lp in new[] { "u", "boss" })
            Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount(lp, "password1", null, null))).Status);
        return (cluster, db);
    }

    /// <summary>The write fails with the database closed; <paramref name="landed"/> then makes it behind the grain's back.</summary>
    private async Task FailThenLandAsync(string db, Func<Task> write, string landed, params (string Name, object Value)[] args)
    {
        await pg.SetReachableAsync(db, reachable: false);
        try
        {
            var e = await Assert.ThrowsAsync<StorageUnavailableException>(write);
            Assert.True(e.Transient, e.Message);
        }
        finally
        {
            await pg.SetReachableAsync(db, reachable: true);
        }
        if (landed.Length == 0) return;
        await using var ds = NpgsqlDataSource.Create(db);
        await using var cmd = ds.CreateCommand(landed);
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync(Ct));
    }

    /// <summary>
    /// A call made once the database is back, asked again while it fails transiently as a gateway would: the silo's pooled
    /// connections were ended with the database's closing, and each fails once when next used (57P01).
    /// </summary>
    private static async Task<T> Back<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (StorageUnavailableException e) when (e.Transient && attempt < 10)
            {
                await Task.Delay(200, Ct);
            }
        }
    }

    [Fact]
    public async Task A_monitoring_relation_that_landed_unseen_is_known_and_can_be_removed()
    {
        var (cluster, db) = await StartAsync("stalegov");
        await using var _ = cluster;
        var governance = cluster.Client.GetGrain<IGovernanceGrain>("stale.test");
        await governance.SetMonitoring(true, null, Admin);

        await FailThenLandAsync(db, () => governance.AddMonitoring("u@stale.test", "boss@stale.test", Admin),
            "INSERT INTO monitoring_relation (monitored, domain, master) VALUES ('u@stale.test', 'stale.test', 'boss@stale.test')");

        // Before: the grain did not know the relation the database holds (the policy did not apply it), adding it again
        // collided on the primary key at every try, and removing it answered NotFound.
        Assert.Equal("boss@stale.test", Assert.Single(await Back(governance.ListMonitoring)).Master);
        Assert.Equal(MonitoringStatus.Ok, await Back(() => governance.RemoveMonitoring("u@stale.test", Admin)));
        Assert.Empty(await governance.ListMonitoring());
    }

    [Fact]
    public async Task Jmap_state_counters_do_not_hand_out_a_number_a_change_that_landed_unseen_took()
    {
        var (cluster, db) = await StartAsync("stalejmap");
        await using var _ = cluster;
        const string account = "u@stale.test";
        const string json = """{"name":"","email":"u@stale.test"}""";

        var identities = cluster.Client.GetGrain<IJmapIdentityGrain>(account);
        var before = await identities.Create("i1", account, json);
        await FailThenLandAsync(db, () => identities.Create("i2", account, json),
            "INSERT INTO jmap_identity (account, id, email, derived, created_seq, updated_seq, object) VALUES (@a, 'i2', @a, false, @s, @s, @o)",
            ("a", account), ("s", before + 1), ("o", json));
        // Before: the grain handed out before + 1 again, so a client that had synchronised at that state missed i3.
        Assert.Equal(before + 2, await Back(() => identities.Create("i3", account, json)));

        var submissions = cluster.Client.GetGrain<IEmailSubmissionGrain>(account);
        var at = DateTimeOffset.UtcNow;
        var first = await submissions.Add("s1", at, "{}");
        await FailThenLandAsync(db, () => submissions.Add("s2", at, "{}"),
            "INSERT INTO jmap_email_submission (account, id, created_seq, updated_seq, send_at, object) VALUES (@a, 's2', @s, @s, @t, '{}')",
            ("a", account), ("s", first + 1), ("t", at));
        Assert.Equal(first + 2, await Back(() => submissions.Add("s3", at, "{}")));
    }

    [Fact]
    public async Task An_account_alias_that_landed_unseen_receives_mail()
    {
        var (cluster, db) = await StartAsync("stalealias");
        await using var _ = cluster;
        var domain = cluster.Client.GetGrain<IDomainGrain>("stale.test");

        await FailThenLandAsync(db, () => domain.AddAccountAlias("u", "other"),
            "INSERT INTO directory_account_alias (domain, alias, local_part) VALUES ('stale.test', 'other', 'u')");

        // Before: the directory listed the alias, and RCPT refused it (550) until the domain's grain was reactivated.
        var verdict = await Back(() => domain.Resolve("other", 0));
        Assert.Equal(RecipientStatus.Accepted, verdict.Status);
        Assert.Equal(["u@stale.test"], verdict.Mailboxes);
    }

    [Fact]
    public async Task A_script_activated_unseen_is_listed_active()
    {
        var (cluster, db) = await StartAsync("stalesieve");
        await using var _ = cluster;
        var sieve = cluster.Client.GetGrain<ISieveGrain>("u@stale.test");
        Assert.Equal(SieveOpStatus.Ok, (await sieve.Put("main", "keep;")).Status);

        await FailThenLandAsync(db, () => sieve.SetActive("main"),
            "UPDATE sieve_script SET active = true WHERE account = 'u@stale.test' AND name = 'main'");

        Assert.True(Assert.Single(await Back(sieve.List)).Active);
    }

    [Fact]
    public async Task An_ereject_script_activated_unseen_refuses_before_data_is_answered_and_one_deactivated_unseen_does_not()
    {
        var (cluster, db) = await StartAsync("staleereject");
        await using var _ = cluster;
        const string account = "u@stale.test";
        var sieve = cluster.Client.GetGrain<ISieveGrain>(account);
        var domain = cluster.Client.GetGrain<IDomainGrain>("stale.test");
        Assert.Equal(SieveOpStatus.Ok, (await sieve.Put("main",
            "require \"ereject\";\nif header :contains \"subject\" \"casino\" { ereject \"No gambling mail, please.\"; }\n")).Status);
        Assert.Null((await domain.Resolve("u", 0)).ProtocolReject);
        var casino = System.Text.Encoding.ASCII.GetBytes("From: promo@ext.test\r\nTo: u@stale.test\r\nSubject: Casino night\r\n\r\nwin big\r\n");
        Task<string?> RunBeforeReply() => sieve.ProtocolReject("promo@ext.test", account, new Orleans.Concurrency.Immutable<byte[]>(casino));

        await FailThenLandAsync(db, () => sieve.SetActive("main"),
            "UPDATE sieve_script SET active = true WHERE account = 'u@stale.test' AND name = 'main'");

        // RCPT's verdict names the mailbox, so the intake runs its script before answering DATA, and the script refuses
        // (550 5.7.1 with its reason). Before: the domain never heard of the change, the message was accepted, and the
        // refusal became a bounce at delivery.
        Assert.Equal([account], (await Back(() => domain.Resolve("u", 0))).ProtocolReject);
        Assert.Equal("No gambling mail, please.", await Back(RunBeforeReply));

        await FailThenLandAsync(db, () => sieve.SetActive(""),
            "UPDATE sieve_script SET active = false WHERE account = 'u@stale.test' AND active");

        // No script is active: nothing refuses, and the domain, once it has read the scripts again, no longer asks.
        Assert.Null(await Back(RunBeforeReply));
        await Eventually.Until(async () => (await domain.Resolve("u", 0)).ProtocolReject is null, TimeSpan.FromSeconds(60),
            "the domain reading the flag again", Ct, TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task An_account_whose_state_write_failed_answers_from_the_database_and_writes_again()
    {
        var (cluster, db) = await StartAsync("staleacct");
        await using var _ = cluster;
        var account = cluster.Client.GetGrain<IAccountGrain>("u@stale.test");
        Assert.True((await account.GetInfo())!.Enabled);

        // The write did not land, but the grain had changed its state in memory first; and a write made unseen moved the
        // row's version (ETag) on.
        await FailThenLandAsync(db, () => account.SetEnabled(false),
            "UPDATE orleans_storage SET version = version + 1 WHERE grain_id_extension LIKE '%u@stale.test%'");

        // Before: the activation answered "disabled" although the database said otherwise, and its next write failed
        // its version check (Orleans ended the activation only then).
        Assert.True((await Back(account.GetInfo))!.Enabled);
        Assert.True(await Back(() => account.SetEnabled(false)));
        Assert.False((await account.GetInfo())!.Enabled);
    }
}
