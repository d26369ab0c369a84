namespace GrainMail.Contracts.Mailboxes;

/// <summary>
/// The exclusive-access lock a POP3 session takes on its maildrop (RFC 1939 §4), keyed by the
/// normalised address. One session holds it at a time, for a lease the session renews while it
/// is active: a session whose gateway died lets go when its lease runs out.
/// </summary>
public interface IMaildropLockGrain : IGrainWithStringKey
{
    /// <summary>
    /// Takes the lock for <paramref name="session"/>, or renews it when that session holds it
    /// already; false while another session's lease runs.
    /// </summary>
    [Retryable]
    Task<bool> TryAcquire(Guid session, TimeSpan lease);

    /// <summary>Lets go of the lock if <paramref name="session"/> holds it.</summary>
    [Retryable]
    Task Release(Guid session);
}
