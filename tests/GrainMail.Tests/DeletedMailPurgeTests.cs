using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Blobs;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>
/// Deleted-mail recovery (issue 17, 4.3.10) through the mailbox grain, on a one-silo cluster whose
/// clock the test moves: the window, restores, the purge with its blobs, and the quota.
/// </summary>
public sealed class DeletedMailPurgeTests(PostgresServer pg) : IAsyncLifetime
{
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private InProcessTestCluster _cluster = null!;
    private string _cs = "";

    public async ValueTask InitializeAsync()
    {
        _cs = await pg.NewDatabaseAsync("deleted");
        _cluster = await TestSilos.StartAsync(_cs, services: s => s.AddSingleton<TimeProvider>(_clock));
        var domain = _cluster.Client.GetGrain<IDomainGrain>("example.com");
        await domain.Create(DomainSettings.Default("local"));
        foreach (var user in new[] { "u", "v" })
            Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount(user, "password1", null, 100_000))).Status);
    }

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    private IMailboxGrain Box(string user) => _cluster.Client.GetGrain<IMailboxGrain>(user + "@example.com");

    private async Task<long> BlobReferences(byte[] raw)
    {
        await using var ds = NpgsqlDataSource.Create(_cs);
        await using var cmd = ds.CreateCommand("SELECT coalesce((SELECT refcount FROM blob WHERE domain = 'example.com' AND hash = @h), 0)");
        cmd.Parameters.AddWithValue("h", BlobStore.Hash(raw));
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task Remove(IMailboxGrain box, string folder, params long[] uids)
    {
        await box.StoreFlags(folder, uids, new FlagChange(FlagChangeMode.Add, MessageFlags.Deleted, []));
        Assert.Equal(uids.Length, (await box.Expunge(folder, null)).Uids.Count);
    }

    [Fact]
    public async Task Expunged_mail_is_restorable_for_seven_days_then_purged_and_an_unshared_blob_goes_with_it()
    {
        var u = Box("u");
        var kept = Messages.Simple("a@x.org", "u@example.com", "kept", "restored later");
        var shared = Messages.Simple("a@x.org", "u@example.com", "shared", "v has a copy of this one");
        Assert.Equal(1, (await u.Append("INBOX", kept, MessageFlags.Seen, ["$work"], null)).Uid);
        Assert.Equal(2, (await u.Append("INBOX", shared, MessageFlags.None, [], null)).Uid);
        await Box("v").Append("INBOX", shared, MessageFlags.None, [], null);
        Assert.Equal(kept.Length + shared.Length, (await u.GetQuota()).UsedBytes);

        await Remove(u, "INBOX", 1, 2);
        // The quota counts what the user sees: removed mail is not in it, but its bytes are kept.
        Assert.Equal(0, (await u.GetQuota()).UsedBytes);
        Assert.Equal(0, (await u.GetQuota()).Messages);
        Assert.Equal(1, await BlobReferences(kept));
        Assert.Equal(2, await BlobReferences(shared));
        var deleted = await u.ListDeleted();
        Assert.Equal(2, deleted.Count);
        Assert.All(deleted, d => Assert.Equal("INBOX", d.Folder));
        Assert.All(deleted, d => Assert.Equal(d.DeletedAt + TimeSpan.FromDays(7), d.RecoverableUntil));
        var keptId = deleted.Single(d => d.Blob.Size == kept.Length).Id;
        var sharedId = deleted.Single(d => d.Blob.Size == shared.Length).Id;

        // Six days later it is still there: back into INBOX under a new UID, flags and keywords kept, \Deleted not.
        _clock.Advance(TimeSpan.FromDays(6));
        var restored = await u.RestoreDeleted([keptId]);
        Assert.Equal(RestoreStatus.Ok, restored.Status);
        Assert.Equal(("INBOX", 3L), (restored.Restored.Single().Folder, restored.Restored.Single().Uid));
        var back = (await u.GetMessages("INBOX", 1, long.MaxValue)).Single();
        Assert.Equal(3, back.Uid);
        Assert.Equal(MessageFlags.Seen, back.Flags);
        Assert.Equal(["$work"], back.Keywords);
        Assert.Equal(kept.Length, (await u.GetQuota()).UsedBytes);
        Assert.Equal(RestoreStatus.NotRecoverable, (await u.RestoreDeleted([keptId])).Status);
        Assert.Equal([sharedId], (await u.ListDeleted()).Select(d => d.Id));

        // Past the window: the purge takes the rest; the shared blob stays for v, with one reference.
        _clock.Advance(TimeSpan.FromDays(2));
        Assert.Empty(await u.ListDeleted());
        Assert.Equal(RestoreStatus.NotRecoverable, (await u.RestoreDeleted([sharedId])).Status);
        // Two rows: the shared message, and the tombstone the restored one left under its old UID.
        Assert.Equal(2, await u.PurgeDeleted());
        Assert.Equal(1, await BlobReferences(shared));
        Assert.Single(await Box("v").GetMessages("INBOX", 1, long.MaxValue));

        // The restored message removed again and left past the window: its blob, used nowhere else, is deleted.
        await Remove(u, "INBOX", 3);
        Assert.Equal(1, await BlobReferences(kept));
        _clock.Advance(TimeSpan.FromDays(8));
        await u.PurgeDeleted();
        Assert.Equal(0, await BlobReferences(kept));
        Assert.Equal(0, (await u.GetQuota()).UsedBytes);
    }

    [Fact]
    public async Task A_deleted_folder_s_messages_come_back_to_INBOX_within_the_domain_s_own_window()
    {
        var u = Box("v");
        var admin = _cluster.Client.GetGrain<IDeletedMailAdminGrain>(0);
        await admin.SetRecoveryDays("example.com", 2, new DeletedMailActor("super", "super", "127.0.0.1"));
        Assert.Equal(2, await admin.GetRecoveryDays("example.com"));
        Assert.Equal(MailboxOpStatus.Ok, (await u.CreateFolder("Projects")).Status);
        var raw = Messages.Simple("a@x.org", "v@example.com", "plan", "in a folder deleted by mistake");
        await u.Append("Projects", raw, MessageFlags.None, [], null);
        var old = Messages.Simple("a@x.org", "v@example.com", "old", "left to expire");
        await u.Append("Projects", old, MessageFlags.None, [], null);
        var before = (await u.GetQuota()).UsedBytes;

        Assert.Equal(MailboxOpStatus.Ok, (await u.DeleteFolder("Projects")).Status);
        var deleted = await u.ListDeleted();
        Assert.Equal(2, deleted.Count);
        Assert.All(deleted, d => Assert.Equal("Projects", d.Folder));
        Assert.All(deleted, d => Assert.Equal(d.DeletedAt + TimeSpan.FromDays(2), d.RecoverableUntil));

        // The folder is gone, so the message goes to INBOX; the admin restores it for the user.
        _clock.Advance(TimeSpan.FromDays(1));
        var id = deleted.Single(d => d.Blob.Size == raw.Length).Id;
        var result = await admin.Restore("v@example.com", [id], new DeletedMailActor("super", "super", "127.0.0.1"));
        Assert.Equal(RestoreStatus.Ok, result.Status);
        Assert.Equal("INBOX", result.Restored.Single().Folder);
        Assert.Equal(before - deleted.Single(d => d.Id != id).Blob.Size, (await u.GetQuota()).UsedBytes);

        // A folder of the same name made again is another folder: nothing goes there.
        await u.CreateFolder("Projects");
        _clock.Advance(TimeSpan.FromDays(1.5));
        Assert.Empty(await u.ListDeleted());
        Assert.Equal(2, await u.PurgeDeleted());
        Assert.Equal(0, await BlobReferences(old));
        Assert.Equal(0, (await u.GetFolder("Projects"))!.Messages);
    }

    [Fact]
    public async Task After_a_restart_the_changes_since_a_modseq_name_exactly_the_uids_expunged_since()
    {
        var u = Box("u");
        for (var i = 0; i < 6; i++) await u.Append("INBOX", Messages.Simple("a@x.org", "u@example.com", "m" + i, "body " + i), MessageFlags.None, [], null);
        var before = (await u.GetFolder("INBOX"))!.HighestModSeq;
        await Remove(u, "INBOX", 2);
        await u.Move("INBOX", [5], "Archive");
        var middle = (await u.GetFolder("INBOX"))!.HighestModSeq;
        await Remove(u, "INBOX", 4);

        // A new cluster on the same database: the grain's in-memory expunge log is gone.
        await _cluster.DisposeAsync();
        _cluster = await TestSilos.StartAsync(_cs, services: s => s.AddSingleton<TimeProvider>(_clock));
        u = Box("u");
        var changes = (await u.GetChanges("INBOX", before))!;
        Assert.Null(changes.AllUids);
        Assert.Equal([2L, 4, 5], changes.Expunged!.Order());
        Assert.Equal([4L], (await u.GetChanges("INBOX", middle))!.Expunged);
        // Once the purge has passed those MODSEQs, the full UID list instead (RFC 7162 3.2.5.1).
        _clock.Advance(TimeSpan.FromDays(8));
        Assert.Equal(3, await u.PurgeDeleted());
        var purged = (await u.GetChanges("INBOX", before))!;
        Assert.Null(purged.Expunged);
        Assert.Equal([1L, 3, 6], purged.AllUids!.Order());
    }
}
