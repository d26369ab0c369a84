using System.Globalization;
using System.Text;
using Npgsql;

namespace GrainMail.Storage.Audit;

/// <summary>The chain's tip at one moment, as written outside the database.</summary>
public sealed record AuditAnchor(long Id, byte[] Hash, DateTimeOffset At);

/// <summary>
/// Anchors of the audit chain outside PostgreSQL: an append-only text file (by default
/// <c>audit-anchors.log</c> in the data directory), one line per anchor with the tip's id and hash.
/// Whoever can rewrite <c>audit_log</c> and <c>audit_chain_head</c> together can make a chain that
/// verifies on its own; an anchor written before the rewrite no longer matches it. The file is only
/// ever appended to, and each line is flushed to disk before the call returns.
/// </summary>
public sealed class AuditAnchors(string path)
{
    private readonly SemaphoreSlim _write = new(1, 1);

    public string Path => path;

    /// <summary>The chain's tip now (id 0 and the genesis hash for an empty log).</summary>
    public static async Task<AuditAnchor> TipAsync(NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("SELECT last_id, last_hash FROM audit_chain_head");
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) throw new InvalidOperationException("audit_chain_head has no row (migration 0019 inserts it)");
        return new AuditAnchor(r.GetInt64(0), r.GetFieldValue<byte[]>(1), clock.GetUtcNow());
    }

    /// <summary>Appends <paramref name="anchor"/> unless the latest line already holds the same tip.</summary>
    public async Task<AuditAnchor> AppendAsync(AuditAnchor anchor, CancellationToken ct = default)
    {
        await _write.WaitAsync(ct);
        try
        {
            if (await LatestAsync(ct) is { } last && last.Id == anchor.Id && last.Hash.AsSpan().SequenceEqual(anchor.Hash)) return last;
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            var line = $"{anchor.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)} {anchor.Id.ToString(CultureInfo.InvariantCulture)} {Convert.ToHexStringLower(anchor.Hash)}\n";
            await using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
            await file.WriteAsync(Encoding.ASCII.GetBytes(line), ct);
            file.Flush(flushToDisk: true);
            return anchor;
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>The newest well-formed anchor in the file, or null when there is none (a torn last line is skipped).</summary>
    public async Task<AuditAnchor?> LatestAsync(CancellationToken ct = default)
    {
        if (!File.Exists(path)) return null;
        var lines = await File.ReadAllLinesAsync(path, ct);
        for (var i = lines.Length - 1; i >= 0; i--)
        {
            if (Parse(lines[i]) is { } anchor) return anchor;
        }
        return null;
    }

    public static AuditAnchor? Parse(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || parts[2].Length != 64) return null;
        if (!DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)) return null;
        if (!long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var id)) return null;
        try
        {
            return new AuditAnchor(id, Convert.FromHexString(parts[2]), at);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
