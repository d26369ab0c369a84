using GrainMail.Storage.Database;
using Npgsql;

[assembly: AssemblyFixture(typeof(GrainMail.Tests.Infrastructure.PostgresServer))]

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// One real PostgreSQL server for the whole test run (the embedded-default code path, in a
/// temporary directory); each test gets a database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private static int _counter;
    private EmbeddedPostgres? _pg;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"grainmail-tests-{Environment.ProcessId}");

    public EmbeddedPostgres Server => _pg ?? throw new InvalidOperationException("not started");

    public async ValueTask InitializeAsync()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        Directory.CreateDirectory(Root);
        // Others must be able to reach the data directory: the server runs as 'postgres' when tests run as root.
        File.SetUnixFileMode(Root, (UnixFileMode)0b111_101_101);
        _pg = await EmbeddedPostgres.StartAsync(Path.Combine(Root, "pg"));
    }

    /// <summary>A fresh, empty database; migrated unless told otherwise.</summary>
    public async Task<string> NewDatabaseAsync(string prefix, bool migrate = true)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _counter)}".ToLowerInvariant();
        await using (var conn = new NpgsqlConnection(Server.ConnectionString("postgres")))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name}", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var cs = Server.ConnectionString(name);
        if (migrate)
        {
            await using var ds = NpgsqlDataSource.Create(cs);
            await new MigrationRunner(ds).ApplyAsync();
        }
        return cs;
    }

    /// <summary>
    /// Closes a database to new connections and ends the open ones (what a dying primary looks like from a silo: broken
    /// connections, then refusals), or opens it again.
    /// </summary>
    public async Task SetReachableAsync(string connectionString, bool reachable)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        await using var ds = NpgsqlDataSource.Create(Server.ConnectionString("postgres"));
        await using (var alter = ds.CreateCommand($"ALTER DATABASE {database} ALLOW_CONNECTIONS {(reachable ? "true" : "false")}"))
            await alter.ExecuteNonQueryAsync();
        if (reachable) return;
        await using var end = ds.CreateCommand("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = @d AND pid <> pg_backend_pid()");
        end.Parameters.AddWithValue("d", database);
        await end.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_pg is not null) await _pg.StopAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
