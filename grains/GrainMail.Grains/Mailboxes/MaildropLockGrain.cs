using GrainMail.Contracts.Mailboxes;
using GrainMail.Grains.Regions;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Holds the POP3 maildrop lock in memory. Losing it with the activation (a silo crash) only
/// lets a second POP3 session in early; the activation is kept while a lease runs, so idle
/// collection never drops a held lock.
/// </summary>
[HomeRegionPlacement]
public sealed class MaildropLockGrain(TimeProvider clock) : Grain, IMaildropLockGrain
{
    private Guid _holder;
    private DateTimeOffset _expires;

    public Task<bool> TryAcquire(Guid session, TimeSpan lease)
    {
        var now = clock.GetUtcNow();
        if (_holder != Guid.Empty && _holder != session && _expires > now) return Task.FromResult(false);
        _holder = session;
        _expires = now + lease;
        DelayDeactivation(lease);
        return Task.FromResult(true);
    }

    public Task Release(Guid session)
    {
        if (_holder == session) _holder = Guid.Empty;
        return Task.CompletedTask;
    }
}
