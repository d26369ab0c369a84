using System.Text.Json;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Mailboxes;
using Orleans.Concurrency;

namespace GrainMail.Grains.Mailboxes;

/// <summary>Restores for a user and sets recovery windows, writing one audit entry per action.</summary>
[StatelessWorker]
public sealed class DeletedMailAdminGrain(MailboxStore store, AuditLog audit) : Grain, IDeletedMailAdminGrain
{
    public const int MaxRecoveryDays = 3650;

    public async Task<RestoreResult> Restore(string address, IReadOnlyList<long> ids, DeletedMailActor actor)
    {
        var result = await GrainFactory.GetGrain<IMailboxGrain>(address).RestoreDeleted(ids);
        var detail = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["ids"] = ids,
            ["uids"] = result.Restored.Select(r => $"{r.Folder}/{r.UidValidity}/{r.Uid}").ToArray(),
        });
        await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "mailbox.restore_deleted", address,
            result.Status == RestoreStatus.Ok ? "ok" : result.Status.ToString().ToLowerInvariant(), detail));
        return result;
    }

    public Task<int> GetRecoveryDays(string domain) => store.RecoveryDaysAsync(domain);

    public async Task SetRecoveryDays(string domain, int days, DeletedMailActor actor)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(days);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(days, MaxRecoveryDays);
        var before = await store.RecoveryDaysAsync(domain);
        await store.SetRecoveryDaysAsync(domain, days);
        await audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, "domain.recovery_days", domain, "ok",
            JsonSerializer.Serialize(new Dictionary<string, int> { ["before"] = before, ["after"] = days })));
    }
}
