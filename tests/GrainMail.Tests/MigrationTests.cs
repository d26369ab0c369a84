using GrainMail.Storage.Database;
using GrainMail.Tests.Infrastructure;
using Npgsql;

namespace GrainMail.Tests;

public sealed class MigrationTests(PostgresServer pg)
{
    [Fact]
    public async Task Empty_database_gets_every_migration_and_a_second_run_changes_nothing()
    {
        var cs = await pg.NewDatabaseAsync("mig", migrate: false);
        await using var ds = NpgsqlDataSource.Create(cs);
        var runner = new MigrationRunner(ds);

        var first = await runner.ApplyAsync(TestContext.Current.CancellationToken);
        Assert.Equal(MigrationRunner.Embedded.Select(m => m.Version), first);
        var tablesAfterFirst = await Tables(ds);
        Assert.Contains("orleansquery", tablesAfterFirst);
        Assert.Contains("stream_queue", tablesAfterFirst);
        Assert.Contains("mailbox_message", tablesAfterFirst);

        var second = await runner.ApplyAsync(TestContext.Current.CancellationToken);
        Assert.Empty(second);
        Assert.Equal(tablesAfterFirst, await Tables(ds));
        Assert.Equal(MigrationRunner.Embedded.Count, await Scalar<long>(ds, "SELECT count(*) FROM grainmail_schema"));
    }

    [Fact]
    public async Task Migrations_started_at_the_same_moment_apply_once()
    {
        var cs = await pg.NewDatabaseAsync("migrace", migrate: false);
        await using var ds = NpgsqlDataSource.Create(cs);
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => new MigrationRunner(ds).ApplyAsync())));
        // Exactly one runner applied each migration; the others waited on the lock and found nothing to do.
        Assert.Equal(MigrationRunner.Embedded.Count, runs.Sum(r => r.Count));
        Assert.Equal(MigrationRunner.Embedded.Count, await Scalar<long>(ds, "SELECT count(*) FROM grainmail_schema"));
    }

    [Fact]
    public async Task Orleans_provider_queries_are_installed()
    {
        var cs = await pg.NewDatabaseAsync("migq");
        await using var ds = NpgsqlDataSource.Create(cs);
        var keys = new List<string>();
        await using (var cmd = ds.CreateCommand("SELECT querykey FROM orleansquery"))
        await using (var r = await cmd.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await r.ReadAsync(TestContext.Current.CancellationToken)) keys.Add(r.GetString(0));
        }
        foreach (var key in new[]
        {
            "UpdateIAmAlivetimeKey", "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey", "GatewaysQueryKey",
            "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "CleanupDefunctSiloEntriesKey",
            "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey",
            "UpsertReminderRowKey", "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
            "DeleteReminderRowKey", "DeleteReminderRowsKey",
        })
        {
            Assert.Contains(key, keys);
        }
    }

    private static async Task<List<string>> Tables(NpgsqlDataSource ds)
    {
        var list = new List<string>();
        await using var cmd = ds.CreateCommand("SELECT lower(table_name) FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(r.GetString(0));
        return list;
    }

    private static async Task<T> Scalar<T>(NpgsqlDataSource ds, string sql)
    {
        await using var cmd = ds.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
