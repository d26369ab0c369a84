using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Jmap;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Sieve;
using GrainMail.Gateways.Common;
using GrainMail.Tests.Infrastructure;

namespace GrainMail.Tests;

/// <summary>
/// A grain that activates while the database is away (real PostgreSQL closed to connections): its first read fails
/// before any grain call runs, so the silo's incoming call filter never sees it, and Orleans rejects the call with the
/// exception the activation failed with. The caller must still hear <see cref="StorageUnavailableException"/>, marked
/// transient, so that a retryable read is asked again and the gateways answer with their temporary errors; both kinds
/// of activation are covered: grain state read by Orleans' ADO.NET storage, and a grain's own SQL in OnActivateAsync.
/// </summary>
public sealed class ActivationStorageFailureTests(PostgresServer pg)
{
    [Fact]
    public async Task A_grain_that_cannot_read_itself_at_activation_fails_its_caller_with_a_transient_storage_failure()
    {
        var cs = await pg.NewDatabaseAsync("actfail");
        // No retry filter on this client: each call's own outcome is what is looked at.
        await using var cluster = await TestSilos.StartAsync(cs);
        var g = cluster.Client;
        // Warm the silo's own paths (the first grain call of a cluster) on a grain that stays active.
        await g.GetGrain<ISecurityPolicyGrain>(0).GetPolicy("warm.test");

        const string account = "u@cold.test";
        var calls = new (string Name, Func<Task> Call)[]
        {
            // [PersistentState] on the ADO.NET grain storage.
            ("DomainGrain (grain state)", () => g.GetGrain<IDomainGrain>("cold.test").GetInfo()),
            ("AccountGrain (grain state)", () => g.GetGrain<IAccountGrain>(account).GetInfo()),
            // Their own SQL in OnActivateAsync.
            ("MailboxGrain", () => g.GetGrain<IMailboxGrain>(account).GetQuota()),
            ("SieveGrain", () => g.GetGrain<ISieveGrain>(account).List()),
            ("GovernanceGrain", () => g.GetGrain<IGovernanceGrain>("cold.test").GetSettings()),
            ("JmapIdentityGrain", () => g.GetGrain<IJmapIdentityGrain>(account).State()),
            ("EmailSubmissionGrain", () => g.GetGrain<IEmailSubmissionGrain>(account).State()),
        };

        var heard = new List<string>();
        await pg.SetReachableAsync(cs, reachable: false);
        try
        {
            foreach (var (name, call) in calls)
            {
                try
                {
                    await call();
                    heard.Add($"{name}: answered while the database was away");
                }
                catch (StorageUnavailableException e) when (e.Transient)
                {
                }
                catch (Exception e)
                {
                    heard.Add($"{name}: {e.GetType().FullName}: {e.Message.Split('\n')[0]}");
                }
            }
        }
        finally
        {
            await pg.SetReachableAsync(cs, reachable: true);
        }
        Assert.True(heard.Count == 0, string.Join(Environment.NewLine, heard));

        // The failed activations are gone: the same grains activate and answer once the database is back (Orleans
        // holds a failed activation for a few seconds before it lets a new one start).
        foreach (var (name, call) in calls)
            await Eventually.Until(async () =>
            {
                try
                {
                    await call();
                    return true;
                }
                catch (StorageUnavailableException)
                {
                    return false;
                }
            }, TimeSpan.FromMinutes(1), $"{name} answering again", TestContext.Current.CancellationToken, TimeSpan.FromMilliseconds(250));
    }

    [Fact]
    public async Task A_retryable_read_of_a_grain_activating_while_the_database_is_away_waits_for_the_database()
    {
        var cs = await pg.NewDatabaseAsync("actretry");
        // The client retries as a gateway does.
        await using var cluster = await TestSilos.StartAsync(cs, client: c => c.AddOutgoingGrainCallFilter<SiloFailureRetry>());
        await cluster.Client.GetGrain<ISecurityPolicyGrain>(0).GetPolicy("warm.test");
        var ct = TestContext.Current.CancellationToken;

        Task<DomainInfo?> domainRead;
        Task<QuotaInfo> mailboxRead;
        await pg.SetReachableAsync(cs, reachable: false);
        try
        {
            // Grains nobody has called yet: their activation meets the closed database.
            domainRead = cluster.Client.GetGrain<IDomainGrain>("other.test").GetInfo();
            mailboxRead = cluster.Client.GetGrain<IMailboxGrain>("nobody@later.test").GetQuota();
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            Assert.False(domainRead.IsCompleted, domainRead.IsFaulted ? domainRead.Exception!.ToString() : "answered while the database was away");
            Assert.False(mailboxRead.IsCompleted, mailboxRead.IsFaulted ? mailboxRead.Exception!.ToString() : "answered while the database was away");
        }
        finally
        {
            await pg.SetReachableAsync(cs, reachable: true);
        }
        Assert.Null(await domainRead);
        Assert.Equal(0, (await mailboxRead).Messages);
    }
}
