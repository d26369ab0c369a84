using Npgsql;

namespace GrainMail.Storage.Trust;

/// <summary>
/// The users' verdicts on MX messages as far as sender reputation is concerned (table reputation_feedback):
/// one row per message, so a verdict corrects the counts once however often, or by however many
/// recipients, it is given.
/// </summary>
public sealed class ReputationFeedbackStore(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Records <paramref name="spam"/> as the verdict on <paramref name="message"/>. Returns the class the
    /// message counted as before: <paramref name="countedAtArrival"/> for its first verdict, the other class
    /// when the verdict changed, and null when this verdict was recorded already (nothing to correct).
    /// One statement, so two learners racing on the same message cannot both correct it.
    /// </summary>
    public async Task<bool?> RecordAsync(byte[] message, bool spam, bool countedAtArrival, CancellationToken ct = default)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO reputation_feedback (message, spam) VALUES ($1, $2)
            ON CONFLICT (message) DO UPDATE SET spam = EXCLUDED.spam, updated_at = now()
                WHERE reputation_feedback.spam <> EXCLUDED.spam
            RETURNING (xmax = 0) AS inserted
            """);
        cmd.Parameters.AddWithValue(message);
        cmd.Parameters.AddWithValue(spam);
        var inserted = await cmd.ExecuteScalarAsync(ct);
        return inserted switch
        {
            null => null,
            true => countedAtArrival,
            _ => !spam,
        };
    }
}
