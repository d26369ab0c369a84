using System.Threading.Channels;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Logins;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts.Logins;

/// <summary>
/// Writes login records off the login path: the guard hands a record over and returns, a writer
/// task inserts what is queued in one statement per batch (up to 500 rows) and appends the audit
/// entries of refusals. The queue is bounded: when it is full a refusal is written by the caller
/// itself (never lost, an attacker's flood only slows the attacker's own attempts) and a success
/// is dropped and counted. Stopping the silo drains the queue.
/// </summary>
public sealed class LoginRecorder(LoginLogStore store, AuditLog audit, LoginSecurityOptions options, ILogger<LoginRecorder> logger)
    : BackgroundService
{
    private const int BatchSize = 500;

    private sealed record Pending(LoginRow Row, AuditRecord? Audit);

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, options.RecordQueueCapacity))
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private long _dropped;

    /// <summary>Successful logins not recorded because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public async ValueTask RecordAsync(LoginRow row, AuditRecord? auditRecord)
    {
        var pending = new Pending(row, auditRecord);
        if (_queue.Writer.TryWrite(pending)) return;
        if (row.Result == LoginResults.Success)
        {
            if (Interlocked.Increment(ref _dropped) % 1000 == 1)
                logger.LogWarning("Login record queue full: {Dropped} successful logins not recorded so far", Dropped);
            return;
        }
        await WriteAsync([pending], CancellationToken.None);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>(BatchSize);
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < BatchSize && reader.TryRead(out var p)) batch.Add(p);
                await WriteWithRetryAsync(batch, stoppingToken);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping while a batch waited for a retry: StopAsync writes it with the rest.
            _unwritten = [.. batch];
        }
    }

    private List<Pending> _unwritten = [];

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        var rest = new List<Pending>(_unwritten);
        while (_queue.Reader.TryRead(out var p)) rest.Add(p);
        foreach (var chunk in rest.Chunk(BatchSize))
        {
            try
            {
                await WriteAsync(chunk, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "{Count} login records lost at shutdown", chunk.Length);
            }
        }
    }

    private async Task WriteWithRetryAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Not cancelled by the stop: a batch in the middle of its statement finishes.
                await WriteAsync(batch, CancellationToken.None);
                return;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException && attempt < 30)
            {
                // The database is away for a moment (failover): keep the batch and try again.
                logger.LogWarning(e, "Writing {Count} login records failed (attempt {Attempt}); retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt)), ct);
            }
        }
    }

    private async Task WriteAsync(IReadOnlyList<Pending> batch, CancellationToken ct)
    {
        await store.InsertAsync(batch.Select(p => p.Row).ToList(), ct);
        foreach (var p in batch)
        {
            if (p.Audit is { } a) await audit.AppendAsync(a, ct);
        }
    }
}

/// <summary>The result column's words.</summary>
public static class LoginResults
{
    public const string Success = "success";

    public static string Of(GrainMail.Contracts.Accounts.AuthOutcome outcome) => outcome switch
    {
        GrainMail.Contracts.Accounts.AuthOutcome.Success => Success,
        GrainMail.Contracts.Accounts.AuthOutcome.BadCredentials => "bad-credentials",
        GrainMail.Contracts.Accounts.AuthOutcome.Disabled => "disabled",
        GrainMail.Contracts.Accounts.AuthOutcome.LockedOut => "locked-out",
        GrainMail.Contracts.Accounts.AuthOutcome.NoSuchAccount => "no-such-account",
        GrainMail.Contracts.Accounts.AuthOutcome.TwoFactorRequired => "two-factor-required",
        GrainMail.Contracts.Accounts.AuthOutcome.AppPasswordRequired => "app-password-required",
        GrainMail.Contracts.Accounts.AuthOutcome.AddressNotAllowed => "address-not-allowed",
        GrainMail.Contracts.Accounts.AuthOutcome.NotDelegated => "not-delegated",
        _ => outcome.ToString().ToLowerInvariant(),
    };

    public static string Channel(GrainMail.Contracts.Accounts.LoginChannel channel) => channel switch
    {
        GrainMail.Contracts.Accounts.LoginChannel.Imap => "imap",
        GrainMail.Contracts.Accounts.LoginChannel.Pop3 => "pop3",
        GrainMail.Contracts.Accounts.LoginChannel.Smtp => "smtp",
        GrainMail.Contracts.Accounts.LoginChannel.HttpBasic => "http-basic",
        GrainMail.Contracts.Accounts.LoginChannel.ManageSieve => "managesieve",
        GrainMail.Contracts.Accounts.LoginChannel.AdminSession => "admin-session",
        GrainMail.Contracts.Accounts.LoginChannel.UserSession => "user-session",
        GrainMail.Contracts.Accounts.LoginChannel.SingleSignOn => "sso",
        _ => channel.ToString().ToLowerInvariant(),
    };
}
