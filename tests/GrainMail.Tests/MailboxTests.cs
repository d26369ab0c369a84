using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Tests.Infrastructure;
using Orleans.TestingHost;

namespace GrainMail.Tests;

/// <summary>Mailbox semantics through the grain, on a one-silo cluster over a real database.</summary>
public sealed class MailboxTests(PostgresServer pg) : IAsyncLifetime
{
    private InProcessTestCluster _cluster = null!;
    private IMailboxGrain _box = null!;

    public async ValueTask InitializeAsync()
    {
        _cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("mbx"));
        var domain = _cluster.Client.GetGrain<IDomainGrain>("example.com");
        await domain.Create(DomainSettings.Default("local"));
        Assert.Equal(DomainOpStatus.Ok, (await domain.CreateAccount(new NewAccount("u", "password1", null, 100_000))).Status);
        _box = _cluster.Client.GetGrain<IMailboxGrain>("u@example.com");
    }

    public async ValueTask DisposeAsync() => await _cluster.DisposeAsync();

    private Task<AppendResult> Put(string folder, string subject, MessageFlags flags = MessageFlags.None, params string[] keywords) =>
        _box.Append(folder, Messages.Simple("a@x.org", "u@example.com", subject, "body of " + subject), flags, keywords, null);

    [Fact]
    public async Task New_mailbox_has_the_special_use_folders()
    {
        var folders = await _box.ListFolders();
        Assert.Equal(["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"], folders.Select(f => f.Name));
        Assert.Equal(SpecialUse.Junk, folders.Single(f => f.Name == "Junk").SpecialUse);
        Assert.All(folders, f => Assert.Equal(1, f.UidNext));
    }

    [Fact]
    public async Task Flags_and_keywords_are_set_cleared_and_replaced_with_modseq()
    {
        var a = await Put("INBOX", "one");
        var b = await Put("INBOX", "two");
        Assert.Equal(1, a.Uid);
        Assert.Equal(2, b.Uid);
        var before = (await _box.GetFolder("INBOX"))!;
        Assert.Equal(2, before.Unseen);

        var r = await _box.StoreFlags("INBOX", [1], new FlagChange(FlagChangeMode.Add, MessageFlags.Seen | MessageFlags.Flagged, ["$Important"]));
        Assert.Single(r.Changed);
        var m1 = (await _box.GetMessages("INBOX", 1, 1)).Single();
        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, m1.Flags);
        Assert.Equal(["$Important"], m1.Keywords);
        Assert.True(m1.ModSeq > before.HighestModSeq);
        Assert.Equal(1, (await _box.GetFolder("INBOX"))!.Unseen);

        await _box.StoreFlags("INBOX", [1], new FlagChange(FlagChangeMode.Remove, MessageFlags.Flagged, ["$important"]));
        m1 = (await _box.GetMessages("INBOX", 1, 1)).Single();
        Assert.Equal(MessageFlags.Seen, m1.Flags);
        Assert.Empty(m1.Keywords);

        await _box.StoreFlags("INBOX", [1, 2], new FlagChange(FlagChangeMode.Replace, MessageFlags.Answered, ["work"]));
        var all = await _box.GetMessages("INBOX", 1, long.MaxValue);
        Assert.All(all, m => Assert.Equal(MessageFlags.Answered, m.Flags));
        Assert.All(all, m => Assert.Equal(["work"], m.Keywords));

        // UNCHANGEDSINCE: a message modified after the given modseq is not changed.
        var stale = await _box.StoreFlags("INBOX", [1], new FlagChange(FlagChangeMode.Add, MessageFlags.Seen, [], UnchangedSince: 1));
        Assert.Equal([1L], stale.FailedUnchangedSince);

        // State survives a new activation (everything was committed, nothing only in memory).
        await _cluster.DeactivateAsync(_box);
        var reloaded = await _box.GetMessages("INBOX", 1, long.MaxValue);
        Assert.Equal(all.Select(m => (m.Uid, m.Flags, string.Join(",", m.Keywords))), reloaded.Select(m => (m.Uid, m.Flags, string.Join(",", m.Keywords))));
    }

    [Fact]
    public async Task Copy_move_and_expunge_keep_uids_counts_and_quota_right()
    {
        await Put("INBOX", "a");
        await Put("INBOX", "b", MessageFlags.Seen);
        await Put("INBOX", "c");
        var used = (await _box.GetQuota()).UsedBytes;

        var copy = await _box.Copy("INBOX", [1, 3], "Archive");
        Assert.Equal([1L, 3L], copy.SourceUids);
        Assert.Equal([1L, 2L], copy.TargetUids);
        Assert.Equal((await _box.GetFolder("Archive"))!.UidValidity, copy.TargetUidValidity);
        Assert.True((await _box.GetQuota()).UsedBytes > used);

        var move = await _box.Move("INBOX", [2], "Trash");
        Assert.Equal([1L], move.TargetUids);
        Assert.Equal([1L, 3L], (await _box.GetMessages("INBOX", 1, long.MaxValue)).Select(m => m.Uid));
        Assert.Equal(MessageFlags.Seen, (await _box.GetMessages("Trash", 1, 1)).Single().Flags);

        // Only messages flagged \Deleted are expunged; UIDs are never reused.
        await _box.StoreFlags("INBOX", [3], new FlagChange(FlagChangeMode.Add, MessageFlags.Deleted, []));
        var ex = await _box.Expunge("INBOX", null);
        Assert.Equal([3L], ex.Uids);
        Assert.Equal([1L], (await _box.GetMessages("INBOX", 1, long.MaxValue)).Select(m => m.Uid));
        // A STORE that reaches a message another session expunged names it as gone (the caller's view
        // is stale and must not answer from it), and changes nothing else.
        var late = await _box.StoreFlags("INBOX", [1, 3], new FlagChange(FlagChangeMode.Add, MessageFlags.Flagged, []));
        Assert.Equal([3L], late.Gone);
        Assert.Equal([1L], late.Changed.Select(m => m.Uid));
        Assert.Equal(4, (await Put("INBOX", "d")).Uid);

        var folders = await _box.ListFolders();
        Assert.Equal(2, folders.Single(f => f.Name == "INBOX").Messages);
        Assert.Equal(2, folders.Single(f => f.Name == "Archive").Messages);
        Assert.Equal(1, folders.Single(f => f.Name == "Trash").Messages);
        Assert.Equal(5, (await _box.GetQuota()).Messages);
    }

    [Fact]
    public async Task Folders_are_created_renamed_and_deleted_with_fresh_uidvalidity()
    {
        Assert.Equal(MailboxOpStatus.Ok, (await _box.CreateFolder("Projects/2026/Q4")).Status);
        Assert.Equal(["Projects", "Projects/2026", "Projects/2026/Q4"],
            (await _box.ListFolders()).Select(f => f.Name).Where(n => n.StartsWith("Projects")));
        Assert.Equal(MailboxOpStatus.FolderExists, (await _box.CreateFolder("Projects")).Status);
        Assert.Equal(MailboxOpStatus.InvalidName, (await _box.CreateFolder("/bad")).Status);
        Assert.Equal(MailboxOpStatus.InvalidName, (await _box.CreateFolder("a//b")).Status);

        await Put("Projects/2026", "kept");
        var uvBefore = (await _box.GetFolder("Projects/2026"))!.UidValidity;
        Assert.Equal(MailboxOpStatus.Ok, (await _box.RenameFolder("Projects", "Work")).Status);
        Assert.Null(await _box.GetFolder("Projects/2026"));
        var renamed = (await _box.GetFolder("Work/2026"))!;
        Assert.Equal(1, renamed.Messages);
        Assert.Equal(uvBefore, renamed.UidValidity);
        Assert.NotNull(await _box.GetFolder("Work/2026/Q4"));

        Assert.Equal(MailboxOpStatus.NotAllowed, (await _box.DeleteFolder("INBOX")).Status);
        Assert.Equal(MailboxOpStatus.NotAllowed, (await _box.DeleteFolder("Work")).Status); // has subfolders
        Assert.Equal(MailboxOpStatus.Ok, (await _box.DeleteFolder("Work/2026/Q4")).Status);
        Assert.Equal(MailboxOpStatus.Ok, (await _box.DeleteFolder("Work/2026")).Status);
        Assert.Equal(0, (await _box.GetQuota()).Messages);

        // A folder re-created under a deleted name gets a new UIDVALIDITY (RFC 3501 2.3.1.1).
        await _box.CreateFolder("Work/2026");
        Assert.NotEqual(uvBefore, (await _box.GetFolder("Work/2026"))!.UidValidity);
        Assert.Equal(MailboxOpStatus.NoSuchFolder, (await _box.DeleteFolder("Nope")).Status);
    }

    [Fact]
    public async Task Quota_refuses_what_does_not_fit()
    {
        var big = new byte[60_000];
        Array.Fill(big, (byte)'x');
        var raw = Messages.Simple("a@x.org", "u@example.com", "big", System.Text.Encoding.ASCII.GetString(big));
        Assert.Equal(MailboxOpStatus.Ok, (await _box.Append("INBOX", raw, MessageFlags.None, [], null)).Status);
        Assert.Equal(MailboxOpStatus.OverQuota, (await _box.Append("INBOX", raw, MessageFlags.None, [], null)).Status);
        Assert.Equal(MailboxOpStatus.OverQuota, (await _box.Copy("INBOX", [1], "Archive")).Status);
        var q = await _box.GetQuota();
        Assert.Equal(100_000, q.LimitBytes);
        Assert.Equal(raw.Length, q.UsedBytes);
    }
}
