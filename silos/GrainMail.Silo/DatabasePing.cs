using Npgsql;

namespace GrainMail.Silo;

/// <summary>The readiness checks' common question: does PostgreSQL answer within 3 s?</summary>
internal static class DatabasePing
{
    public static async Task<string?> FailureAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            await using var cmd = db.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            return null;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            return "database unreachable: " + e.Message;
        }
    }
}
