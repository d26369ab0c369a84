using GrainMail.Operations;
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
/// <para>
/// While the version keeps moving (an operator's <c>grainmail spam train</c>, a learn every few milliseconds for a
/// minute), a copy read now is out of date by the next learn, so reading the whole model at every refresh only loads
/// PostgreSQL. The copy is then read again only when the version has stood still between two refreshes (the training
/// stopped or paused) or, failing that, after a pause that doubles from <see cref="Freshness"/> up to
/// <see cref="MaxReloadPause"/>; meanwhile the messages read the global counts from PostgreSQL, which is always current.
/// The first change after a quiet spell is read at once, as before. No message ever uses a copy whose version was not
/// confirmed within <see cref="Freshness"/>: the pause only decides when the whole model is read, never how old a copy
/// in use may be.
/// </para>
/// </summary>
public sealed class GlobalModelCopy(ContentStore store)
{
    /// <summary>How long a version read stays good for: the copy is not used past it until the version is read again.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause between two reads of the whole model while its version keeps moving.</summary>
    public static readonly TimeSpan MaxReloadPause = TimeSpan.FromSeconds(32);

    /// <summary>A model with more rows than this is not copied (every message reads its counts from PostgreSQL).</summary>
    public const int MaxRows = 4_000_000;

    /// <summary>The operation name of a whole-model read on /metrics (grainmail.storage.pg.duration), so a test or an operator can count them.</summary>
    public const string ModelReadOperation = "bayes.global_model_copy";

    /// <summary>The copy (null before the first load, or when the model is too large) and when its version was last confirmed.</summary>
    private sealed record State(long? Version, ModelCounts? Model, int Rows, long ConfirmedAt);

    private State _state = new(null, null, 0, long.MinValue / 2);

    // Bumped by every change of the global model on this silo: a refresh that began before one must not confirm a copy after
    // it. Changes and confirmations take this lock, so a confirmation is either before a change (which then ends it) or after.
    private readonly Lock _lock = new();
    private long _changes;
    private Task? _refresh;
    private long _retryAt;

    // The reload pacing, touched only by the refresh (one at a time): the version the last refresh read, the pause before the
    // next whole read while the version moves (0: quiet, read at once), and when that pause ends (Environment.TickCount64).
    private long? _lastRead;
    private long _reloadPause;
    private long _reloadAt;

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

    /// <summary>
    /// Reads the version; when it is not the copy's, reads the whole model again — at once after a quiet spell or once the
    /// version stood still since the last refresh, else not before the reload pause ends. Confirms the copy only when no
    /// change of this silo's ran meanwhile; a copy read while one did is kept unconfirmed, to be confirmed by a later
    /// refresh that finds its version still current.
    /// </summary>
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
                // Moving: the version changed since the previous refresh too, and the pause since the last whole read lasts.
                var moving = _lastRead is not null && _lastRead != version && started < _reloadAt;
                _lastRead = version;
                if (moving) return; // the copy stays unconfirmed: the messages read the global counts from PostgreSQL
                _reloadPause = _reloadPause == 0 ? (long)Freshness.TotalMilliseconds : Math.Min(_reloadPause * 2, (long)MaxReloadPause.TotalMilliseconds);
                _reloadAt = started + _reloadPause;
                var tokens = new Dictionary<long, TokenCounts>();
                int spam = 0, ham = 0, rows = 0;
                long? read;
                using (GrainMailMeters.TimePg(ModelReadOperation))
                {
                    read = await store.ReadGlobalModelAsync((token, s, h) =>
                    {
                        rows++;
                        if (token == ContentClassifier.TotalsToken) (spam, ham) = (s, h);
                        else tokens[token] = new TokenCounts(s, h);
                    }, MaxRows);
                }
                state = read is { } v ? new State(v, new ModelCounts(spam, ham, tokens), rows, started) : new State(version, null, 0, started);
                if (read is null) System.Diagnostics.Trace.TraceWarning($"The global spam model has more than {MaxRows} rows: not copied, read per message");
            }
            else
            {
                // The copy's version is current: the model is quiet again, so its next change is read at once.
                _lastRead = version;
                _reloadPause = 0;
                _reloadAt = 0;
            }
            lock (_lock)
            {
                // A change of this silo's since the version was read: keep what was read, unconfirmed (a later refresh
                // confirms it if its version is still current), rather than throw away a whole read.
                Volatile.Write(ref _state, _changes == changes ? state with { ConfirmedAt = started } : state with { ConfirmedAt = long.MinValue / 2 });
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
