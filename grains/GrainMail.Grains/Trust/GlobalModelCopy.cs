using GrainMail.Storage.Trust;
using GrainMail.Trust.Content;

namespace GrainMail.Grains.Trust;

/// <summary>
/// This silo's copy of the global spam model's token counts, so that an MX message reads no counts of the global model
/// from PostgreSQL (with a trained model that was one query per message, its tokens in an <c>ANY</c> array). The copy
/// carries the model's version (migration 0046: moved by triggers in the same transaction as any change to the global
/// counts) and is used only while it is known current: the version was read and matched less than
/// <see cref="Freshness"/> ago and no learn or reset of the global model ran on this silo since. Otherwise the caller
/// reads the counts from PostgreSQL as before, and a refresh (one at a time, off the message's path) reads the version
/// and, when it moved, the whole model again in one snapshot. A model trained on another silo or by SQL is therefore
/// seen within <see cref="Freshness"/>; one trained through this silo at once.
/// </summary>
public sealed class GlobalModelCopy(ContentStore store)
{
    /// <summary>How long a version read stays good for: the copy is not used past it until the version is read again.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    /// <summary>A model with more rows than this is not copied (every message reads its counts from PostgreSQL).</summary>
    public const int MaxRows = 4_000_000;

    /// <summary>The copy (null before the first load, or when the model is too large) and when its version was last confirmed.</summary>
    private sealed record State(long? Version, ModelCounts? Model, int Rows, long ConfirmedAt);

    private State _state = new(null, null, 0, long.MinValue / 2);

    // Bumped by every change of the global model on this silo: a refresh that began before one must not confirm a copy after
    // it. Changes and confirmations take this lock, so a confirmation is either before a change (which then ends it) or after.
    private readonly Lock _lock = new();
    private long _changes;
    private Task? _refresh;
    private long _retryAt;

    /// <summary>How long a silo's first messages wait for the first copy instead of reading the counts per message.</summary>
    public static readonly TimeSpan FirstLoadWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The global model when this silo's copy is known current (Rows: how many rows it has, 0 for an untrained model); a
    /// null model when the counts must be read from PostgreSQL. A copy past half its freshness is refreshed in the
    /// background while it is still used, so that a busy silo's messages do not fall back to PostgreSQL while the version
    /// is read; before the first copy exists (a silo's first messages) they wait up to <see cref="FirstLoadWait"/> for it.
    /// </summary>
    public async ValueTask<(ModelCounts? Model, int Rows)> CurrentAsync(CancellationToken ct = default)
    {
        var state = Volatile.Read(ref _state);
        var age = Environment.TickCount64 - state.ConfirmedAt;
        // Confirmed lately: the copy, or null for a model too large to copy.
        if (age < Freshness.TotalMilliseconds)
        {
            if (age >= Freshness.TotalMilliseconds / 2) _ = StartRefresh();
            return (state.Model, state.Rows);
        }
        var refresh = StartRefresh();
        if (state.Version is not null || refresh is null) return (null, 0);
        try
        {
            await refresh.WaitAsync(FirstLoadWait, ct);
        }
        catch (TimeoutException)
        {
            return (null, 0);
        }
        state = Volatile.Read(ref _state);
        return Environment.TickCount64 - state.ConfirmedAt < Freshness.TotalMilliseconds ? (state.Model, state.Rows) : (null, 0);
    }

    /// <summary>The global model was changed through this silo (a learn, a reset): the copy is not used until its version is read again.</summary>
    public void Changed()
    {
        lock (_lock)
        {
            _changes++;
            Volatile.Write(ref _state, _state with { ConfirmedAt = long.MinValue / 2 });
        }
        Volatile.Write(ref _retryAt, 0);
    }

    /// <summary>The refresh in flight (one at a time), started if none is; null while a failed one's pause lasts.</summary>
    private Task? StartRefresh()
    {
        if (Environment.TickCount64 < Volatile.Read(ref _retryAt)) return null;
        lock (_lock)
        {
            if (_refresh is { IsCompleted: false } running) return running;
            return _refresh = Task.Run(RefreshAsync);
        }
    }

    /// <summary>Reads the version; when it is not the copy's, reads the whole model again. Confirms the copy only when no
    /// change of this silo's ran meanwhile.</summary>
    public async Task RefreshAsync()
    {
        try
        {
            long changes;
            lock (_lock) changes = _changes;
            var started = Environment.TickCount64;
            var version = await store.GlobalVersionAsync();
            var state = Volatile.Read(ref _state);
            if (state.Version != version)
            {
                var tokens = new Dictionary<long, TokenCounts>();
                int spam = 0, ham = 0, rows = 0;
                var read = await store.ReadGlobalModelAsync((token, s, h) =>
                {
                    rows++;
                    if (token == ContentClassifier.TotalsToken) (spam, ham) = (s, h);
                    else tokens[token] = new TokenCounts(s, h);
                }, MaxRows);
                state = read is { } v ? new State(v, new ModelCounts(spam, ham, tokens), rows, started) : new State(version, null, 0, started);
                if (read is null) System.Diagnostics.Trace.TraceWarning($"The global spam model has more than {MaxRows} rows: not copied, read per message");
            }
            lock (_lock)
            {
                if (_changes == changes) Volatile.Write(ref _state, state with { ConfirmedAt = started });
            }
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            // The messages read their counts from PostgreSQL meanwhile (and fail there as they did before the copy).
            System.Diagnostics.Trace.TraceWarning($"Global spam model copy not refreshed: {e.Message}");
            Volatile.Write(ref _retryAt, Environment.TickCount64 + (long)Freshness.TotalMilliseconds);
        }
    }
}
