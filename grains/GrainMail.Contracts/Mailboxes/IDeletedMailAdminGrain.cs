namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// The administrator's side of deleted-mail recovery (issue 17, 4.3.10), on a silo so that each
/// action lands in the audit log: restoring for a user, and a domain's recovery window.
/// </summary>
public interface IDeletedMailAdminGrain : IGrainWithIntegerKey
{
    /// <summary>Restores messages of <paramref name="address"/> (as <see cref="IMailboxGrain.RestoreDeleted"/>) and records who did it.</summary>
    Task<RestoreResult> Restore(string address, IReadOnlyList<long> ids, DeletedMailActor actor);

    /// <summary>How many days the domain's users can recover removed mail (7 unless set).</summary>
    [Retryable]
    Task<int> GetRecoveryDays(string domain);

    /// <summary>Sets the domain's window, 0 to 3650 days; applies to what is already removed too.</summary>
    Task SetRecoveryDays(string domain, int days, DeletedMailActor actor);
}

/// <summary>Who acted, for the audit log: actor, role and client address.</summary>
[GenerateSerializer, Immutable]
public sealed record DeletedMailActor(
    [property: Id(0)] string Actor,
    [property: Id(1)] string Role,
    [property: Id(2)] string ClientIp);
