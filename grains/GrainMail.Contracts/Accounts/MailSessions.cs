namespace GrainMail.Contracts.Accounts;

/// <summary>
/// An open IMAP or POP3 session as its gateway reports it: who logged in (<paramref name="Account"/>),
/// for which mailbox when delegated, and with which credential (an app password's name, or null
/// for the account's password).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OpenMailSession(
    [property: Id(0)] Guid Id,
    [property: Id(1)] string Account,
    [property: Id(2)] string? ActsFor,
    [property: Id(3)] string Channel,
    [property: Id(4)] string ClientIp,
    [property: Id(5)] string? AppPassword,
    [property: Id(6)] DateTimeOffset Since);

public enum MailSessionEndReason
{
    /// <summary>The account was disabled or deleted: every session on its board.</summary>
    AccountDisabled,
    /// <summary>The password changed: the sessions that logged in with it.</summary>
    PasswordChanged,
    AppPasswordRevoked,
    DelegationRemoved,
    /// <summary>One session, ended by the user or an admin.</summary>
    Revoked,
}

/// <summary>Which sessions to end.</summary>
[GenerateSerializer, Immutable]
public sealed record MailSessionEnd(
    [property: Id(0)] MailSessionEndReason Reason,
    [property: Id(1)] string Account,
    [property: Id(2)] string? AppPassword = null,
    [property: Id(3)] string? ActsFor = null,
    [property: Id(4)] Guid? SessionId = null)
{
    public bool Matches(OpenMailSession s) => Reason switch
    {
        MailSessionEndReason.AccountDisabled => s.Account == Account || s.ActsFor == Account,
        MailSessionEndReason.PasswordChanged => s.Account == Account && s.AppPassword is null,
        MailSessionEndReason.AppPasswordRevoked => s.Account == Account && s.AppPassword == AppPassword,
        MailSessionEndReason.DelegationRemoved => s.Account == Account && s.ActsFor == ActsFor,
        MailSessionEndReason.Revoked => s.Id == SessionId,
        _ => false,
    };

    /// <summary>What the client is told before the connection closes.</summary>
    public string Text => Reason switch
    {
        MailSessionEndReason.AccountDisabled => "The account was disabled",
        MailSessionEndReason.PasswordChanged => "The password was changed",
        MailSessionEndReason.AppPasswordRevoked => "The app password was revoked",
        MailSessionEndReason.DelegationRemoved => "The delegation was removed",
        _ => "The session was ended",
    };
}

/// <summary>A gateway process: ends the sessions it holds when an account's board tells it to.</summary>
public interface IMailSessionObserver : IGrainObserver
{
    Task EndSessions(MailSessionEnd end);
}

/// <summary>
/// One account's open mail sessions across every gateway (keyed by the address): gateways report
/// their sessions of the account (the ones logged in as it and the ones acting for it), and the
/// account grain or an admin asks it to end some. Kept in memory: gateways report again every few
/// minutes, so a board lost with its silo is whole again after one renewal period.
/// </summary>
public interface ISessionBoardGrain : IGrainWithStringKey
{
    /// <summary>The gateway's complete list for this account (empty: it holds none any more). A login waits for it
    /// but stands when it fails (the next renewal reports again), so a report to a dead silo gives up after 3 s, not 8.</summary>
    [Orleans.ResponseTimeout(CallTimeouts.LoginRead)]
    Task Report(Guid gateway, IMailSessionObserver observer, IReadOnlyList<OpenMailSession> sessions);

    Task<IReadOnlyList<OpenMailSession>> List();

    /// <summary>Tells every gateway holding matching sessions to close them; the number matched.</summary>
    Task<int> End(MailSessionEnd end);
}
