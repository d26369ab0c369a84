using GrainMail.Contracts.LargeFiles;
using GrainMail.Grains.Accounts;
using GrainMail.Storage.LargeFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace GrainMail.Grains.LargeFiles;

/// <summary>
/// One large file's upload. Pieces for one file arrive here one at a time, so the offset check and
/// the write cannot interleave; the row in PostgreSQL is the state (read again on activation), so a
/// silo restart in the middle of an upload loses at most the piece in flight.
/// </summary>
public sealed class LargeFileGrain(LargeFileStore store, IServiceProvider services) : Grain, ILargeFileGrain
{
    private LargeFileRow? _file;

    // The clock of account security: GRAINMAIL_TEST_CLOCK_FILE lets end-to-end tests let 31 days pass.
    private TimeProvider Clock => services.GetService<SecurityClock>() ?? TimeProvider.System;

    public async Task<LargeFileCreated> Create(string account, string name, string contentType, long length)
    {
        if (length is < 0 or > LargeFileLimits.MaxFileBytes) return new LargeFileCreated(LargeFileCreateStatus.TooLarge, null);
        if (await store.OpenUploadsAsync(account) >= LargeFileLimits.MaxOpenUploads)
            return new LargeFileCreated(LargeFileCreateStatus.TooManyOpen, null);
        _file = await store.CreateAsync(this.GetPrimaryKey(), account, name, contentType, length, Clock.GetUtcNow());
        if (length == 0)
        {
            // An empty file is complete at once (no piece will ever come).
            var done = await store.AppendAsync(_file, 0, ReadOnlyMemory<byte>.Empty, Clock.GetUtcNow(), await ExpiryAsync(_file));
            _file = done is null ? _file : await store.GetAsync(_file.Id);
        }
        return new LargeFileCreated(LargeFileCreateStatus.Created, _file!.ToInfo());
    }

    public async Task<LargeFileInfo?> Status(string account) => await OwnedAsync(account) is { } file ? file.ToInfo() : null;

    public async Task<AppendResult> Append(string account, long offset, Immutable<byte[]> piece)
    {
        if (await OwnedAsync(account) is not { } file) return new AppendResult(AppendStatus.NoSuchFile, 0, false);
        if (file.CompletedAt is not null) return new AppendResult(AppendStatus.AlreadyComplete, file.Received, true);
        if (offset != file.Received) return new AppendResult(AppendStatus.WrongOffset, file.Received, false);
        if (piece.Value.Length > LargeFileLimits.PieceBytes || offset + piece.Value.Length > file.Length)
            return new AppendResult(AppendStatus.PastEnd, file.Received, false);
        if (piece.Value.Length == 0) return new AppendResult(AppendStatus.Appended, file.Received, false);
        var now = Clock.GetUtcNow();
        var received = await store.AppendAsync(file, offset, piece.Value, now, await ExpiryAsync(file));
        if (received is null)
        {
            // Someone else moved the row (another activation after a split): believe the database.
            _file = await store.GetAsync(file.Id);
            return new AppendResult(AppendStatus.WrongOffset, _file?.Received ?? 0, false);
        }
        var complete = received == file.Length;
        _file = complete ? await store.GetAsync(file.Id) : file with { Received = received.Value };
        return new AppendResult(AppendStatus.Appended, received.Value, complete);
    }

    public async Task<bool> Delete(string account)
    {
        if (await OwnedAsync(account) is null) return false;
        await store.DeleteAsync(this.GetPrimaryKey());
        _file = null;
        DeactivateOnIdle();
        return true;
    }

    private async Task<LargeFileRow?> OwnedAsync(string account)
    {
        _file ??= await store.GetAsync(this.GetPrimaryKey());
        return _file is not null && _file.Account == account ? _file : null;
    }

    private async Task<DateTimeOffset> ExpiryAsync(LargeFileRow file) =>
        Clock.GetUtcNow().AddDays(await store.LinkDaysAsync(file.Domain));
}

/// <summary>Downloads by link: any silo, any number of readers at once.</summary>
[StatelessWorker, Reentrant]
public sealed class LargeFileReaderGrain(LargeFileStore store, IServiceProvider services) : Grain, ILargeFileReaderGrain
{
    private TimeProvider Clock => services.GetService<SecurityClock>() ?? TimeProvider.System;

    public async Task<LinkTarget> Resolve(string token)
    {
        var file = await store.FindByTokenAsync(token);
        if (file is null || file.CompletedAt is null) return new LinkTarget(LinkStatus.NotFound, Guid.Empty, "", "", 0, null);
        var status = file.Expires is { } expires && expires <= Clock.GetUtcNow() ? LinkStatus.Expired : LinkStatus.Found;
        return new LinkTarget(status, file.Id, file.Name, file.ContentType, file.Length, file.Expires);
    }

    public async Task<Immutable<byte[]>> Read(Guid fileId, long offset, int count)
    {
        var file = await store.GetAsync(fileId);
        if (file?.CompletedAt is null || offset < 0 || count <= 0) return Array.Empty<byte>().AsImmutable();
        return (await store.ReadAsync(file, offset, Math.Min(count, 4 * LargeFileLimits.PieceBytes))).AsImmutable();
    }

    public Task<int> LinkDays(string domain) => store.LinkDaysAsync(domain);

    public Task SetLinkDays(string domain, int days) => store.SetLinkDaysAsync(domain, days);
}

/// <summary>Removes expired files (a day after their link ended) and uploads abandoned for a week, once an hour.</summary>
public sealed class LargeFileSweeper(LargeFileStore store, ILogger<LargeFileSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var now = DateTimeOffset.UtcNow;
                var removed = await store.SweepAsync(now.AddDays(-1), now.AddDays(-7), stoppingToken);
                if (removed > 0) logger.LogInformation("Large files removed: {Count}", removed);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Large file sweep failed");
            }
        }
    }
}
