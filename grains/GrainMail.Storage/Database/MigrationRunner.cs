using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace GrainMail.Storage.Database;

/// <summary>
/// Applies the versioned SQL migrations embedded in this assembly (Migrations/NNNN_name.sql),
/// each in its own transaction, recording them in <c>grainmail_schema</c>. A session-level
/// advisory lock serialises silos that start at the same moment: the second waits, then
/// finds everything applied and changes nothing.
/// </summary>
public sealed class MigrationRunner(NpgsqlDataSource dataSource, ILogger<MigrationRunner>? logger = null)
{
    // Arbitrary constant shared by every GrainMail process ("GrMl").
    private const long AdvisoryLockKey = 0x47724D6C;

    private readonly ILogger _logger = logger ?? NullLogger<MigrationRunner>.Instance;

    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    /// <summary>Applies what is missing; returns the versions applied by this call.</summary>
    public async Task<IReadOnlyList<int>> ApplyAsync(CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_lock(@k)", conn))
        {
            lockCmd.Parameters.AddWithValue("k", AdvisoryLockKey);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }
        try
        {
            await using (var create = new NpgsqlCommand(
                """
                CREATE TABLE IF NOT EXISTS grainmail_schema (
                    version    int PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, conn))
            {
                await create.ExecuteNonQueryAsync(ct);
            }

            var applied = new HashSet<int>();
            await using (var read = new NpgsqlCommand("SELECT version FROM grainmail_schema", conn))
            await using (var reader = await read.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct)) applied.Add(reader.GetInt32(0));
            }

            var done = new List<int>();
            foreach (var m in Embedded)
            {
                if (applied.Contains(m.Version)) continue;
                await using var tx = await conn.BeginTransactionAsync(ct);
                await using (var run = new NpgsqlCommand(m.Sql, conn, tx))
                {
                    await run.ExecuteNonQueryAsync(ct);
                }
                await using (var record = new NpgsqlCommand(
                    "INSERT INTO grainmail_schema (version, name) VALUES (@v, @n)", conn, tx))
                {
                    record.Parameters.AddWithValue("v", m.Version);
                    record.Parameters.AddWithValue("n", m.Name);
                    await record.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                _logger.LogInformation("Applied migration {Version} {Name}", m.Version, m.Name);
                done.Add(m.Version);
            }
            return done;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@k)", conn);
            unlock.Parameters.AddWithValue("k", AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static List<Migration> LoadEmbedded()
    {
        const string prefix = "GrainMail.Storage.Migrations.";
        var asm = typeof(MigrationRunner).Assembly;
        var list = new List<Migration>();
        foreach (var res in asm.GetManifestResourceNames())
        {
            if (!res.StartsWith(prefix, StringComparison.Ordinal) || !res.EndsWith(".sql", StringComparison.Ordinal)) continue;
            var file = res[prefix.Length..^4];
            var underscore = file.IndexOf('_');
            if (underscore <= 0 || !int.TryParse(file[..underscore], out var version))
                throw new InvalidOperationException($"Migration resource '{res}' is not named NNNN_name.sql");
            list.Add(new Migration(version, file[(underscore + 1)..], ReadResource(asm, res)));
        }
        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < list.Count; i++)
        {
            if (list[i].Version == list[i - 1].Version)
                throw new InvalidOperationException($"Two migrations share version {list[i].Version}");
        }
        return list;
    }

    private static string ReadResource(Assembly asm, string name)
    {
        using var s = asm.GetManifestResourceStream(name)!;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}

public sealed record Migration(int Version, string Name, string Sql);
