using GrainMail.Contracts.Governance;
using GrainMail.Storage.Governance;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Governance;

/// <summary>
/// A domain's retention (key: the domain), applied in the background by a reminder: one query
/// finds the mailboxes that hold a message past its folder's days, and each of those mailbox
/// grains removes its own (so sessions see EXPUNGE and quota follows). Delivery never waits for
/// this grain; each mailbox only gives it one turn per sweep. Every domain has Junk and Trash
/// defaults, so the reminder is registered when the domain's policy is first set or read
/// (<see cref="Start"/>, called by the governance grain and at domain creation time).
/// </summary>
public sealed class RetentionGrain(GovernanceStore store, GovernanceClock clock, ILogger<RetentionGrain> logger) : Grain, IRetentionGrain, IRemindable
{
    private const string ReminderName = "retention";

    /// <summary>How often a domain's folders are swept: retention counts in days, an hour is precise enough.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromHours(1);

    private bool _sweeping;

    public async Task Start() => await this.RegisterOrUpdateReminder(ReminderName, TimeSpan.FromMinutes(1), Period);

    public async Task ReceiveReminder(string reminderName, TickStatus status) => await Sweep();

    public async Task<int> Sweep()
    {
        if (_sweeping) return 0;
        _sweeping = true;
        try
        {
            var domain = this.GetPrimaryKeyString();
            var settings = await GrainFactory.GetGrain<IGovernanceGrain>(domain).GetSettings();
            var now = clock.GetUtcNow();
            var removed = 0;
            foreach (var address in await store.MailboxesWithDueMessagesAsync(domain, settings.Retention, now))
            {
                try
                {
                    removed += await GrainFactory.GetGrain<IMailboxGovernance>(address).ApplyRetention(settings.Retention, now);
                }
                catch (Exception e)
                {
                    // One mailbox failing (fenced, moving home) is retried at the next sweep.
                    logger.LogWarning(e, "Retention in {Mailbox} failed; retried at the next sweep", address);
                }
            }
            if (removed > 0) logger.LogInformation("Retention removed {Count} messages in {Domain}", removed, domain);
            return removed;
        }
        finally
        {
            _sweeping = false;
        }
    }
}
