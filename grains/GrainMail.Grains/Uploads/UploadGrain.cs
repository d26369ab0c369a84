using GrainMail.Contracts.Uploads;
using GrainMail.Grains.Accounts;
using GrainMail.Storage.Uploads;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace GrainMail.Grains.Uploads;

/// <summary>
/// One JMAP upload (RFC 8620 6.1). The gateway streams the body here piece by piece, so no gateway
/// ever holds a whole upload; size limit and account quota are checked before each piece is stored.
/// The row is the state: any gateway, after any restart, finds the blob by its id until it expires.
/// </summary>
public sealed class UploadGrain(UploadBlobStore store, IServiceProvider services) : Grain, IUploadGrain
{
    private UploadRow? _upload;

    // The clock of account security: GRAINMAIL_TEST_CLOCK_FILE lets end-to-end tests let a day pass.
    private TimeProvider Clock => services.GetService<SecurityClock>() ?? TimeProvider.System;

    public async Task<UploadStatus> Begin(string account, string contentType)
    {
        var now = Clock.GetUtcNow();
        if (await store.LiveBytesAsync(account, now) >= UploadLimits.AccountQuotaBytes) return UploadStatus.OverQuota;
        _upload = await store.CreateAsync(this.GetPrimaryKey(), account, contentType, now);
        return UploadStatus.Ok;
    }

    public async Task<UploadStatus> Append(string account, long offset, Immutable<byte[]> piece, long maxSize)
    {
        if (await OwnedAsync(account) is not { } upload) return UploadStatus.NotFound;
        if (upload.CompletedAt is not null || offset != upload.Size) return UploadStatus.WrongOffset;
        var n = piece.Value.Length;
        if (n == 0) return UploadStatus.Ok;
        if (n > UploadLimits.PieceBytes || offset + n > maxSize) return UploadStatus.TooLarge;
        if (await store.LiveBytesAsync(account, Clock.GetUtcNow()) + n > UploadLimits.AccountQuotaBytes) return UploadStatus.OverQuota;
        if (!await store.AppendAsync(upload, offset, piece.Value))
        {
            _upload = await store.GetAsync(upload.Id);
            return UploadStatus.WrongOffset;
        }
        _upload = upload with { Size = offset + n };
        return UploadStatus.Ok;
    }

    public async Task<UploadInfo?> Finish(string account)
    {
        if (await OwnedAsync(account) is not { } upload) return null;
        if (upload.CompletedAt is null)
        {
            var now = Clock.GetUtcNow();
            await store.CompleteAsync(upload.Id, now);
            _upload = upload = upload with { CompletedAt = now };
        }
        return upload.ToInfo();
    }

    public async Task Abort(string account)
    {
        if (await OwnedAsync(account) is not { CompletedAt: null } upload) return;
        await store.DeleteAsync(upload.Id);
        _upload = null;
        DeactivateOnIdle();
    }

    public async Task<UploadInfo?> Get(string account) => await LiveAsync(account) is { } u ? u.ToInfo() : null;

    public async Task<Immutable<byte[]>> Read(string account, long offset, int count)
    {
        if (await LiveAsync(account) is not { } upload || offset < 0 || count <= 0) return Array.Empty<byte>().AsImmutable();
        return (await store.ReadAsync(upload, offset, Math.Min(count, 4 * UploadLimits.PieceBytes))).AsImmutable();
    }

    private async Task<UploadRow?> LiveAsync(string account) =>
        await OwnedAsync(account) is { CompletedAt: not null } u && u.Expires > Clock.GetUtcNow() ? u : null;

    private async Task<UploadRow?> OwnedAsync(string account)
    {
        _upload ??= await store.GetAsync(this.GetPrimaryKey());
        return _upload is not null && _upload.Account == account ? _upload : null;
    }
}

/// <summary>Deletes expired uploads (and so the unfinished ones of requests that broke off) every ten minutes.</summary>
public sealed class UploadSweeper(UploadBlobStore store, IServiceProvider services, ILogger<UploadSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var clock = services.GetService<SecurityClock>() ?? TimeProvider.System;
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(10));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var removed = await store.SweepAsync(clock.GetUtcNow(), stoppingToken);
                if (removed > 0) logger.LogInformation("Expired JMAP uploads removed: {Count}", removed);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "JMAP upload sweep failed");
            }
        }
    }
}
