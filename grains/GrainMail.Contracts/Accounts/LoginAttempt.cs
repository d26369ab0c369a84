namespace GrainMail.Contracts.Accounts;

/// <summary>Where a login came in. Interactive channels are the ones a person types into (two-factor applies there).</summary>
public enum LoginChannel
{
    Imap,
    Pop3,
    Smtp,
    /// <summary>HTTP Basic on the user API and CardDAV: mail-client style, app passwords welcome.</summary>
    HttpBasic,
    ManageSieve,
    /// <summary><c>POST /api/v1/sessions</c>: an admin's interactive login.</summary>
    AdminSession,
    /// <summary>A user's interactive login (user API session, webmail, JMAP bearer token).</summary>
    UserSession,

    /// <summary>A single sign-on ticket redeemed by the user's browser: the integration vouched, no secret is checked.</summary>
    SingleSignOn,
}

/// <summary>
/// One login attempt as a gateway saw it. The account grain (the authentication identity's) decides;
/// <see cref="AuthorizationIdentity"/> is the mailbox the caller wants to act for (SASL authzid,
/// RFC 4616), which only a delegation allows.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LoginAttempt(
    [property: Id(0)] string Secret,
    [property: Id(1)] LoginChannel Channel,
    [property: Id(2)] string RemoteIp,
    [property: Id(3)] string? ClientName = null,
    [property: Id(4)] string? AuthorizationIdentity = null,
    [property: Id(5)] string? TotpCode = null)
{
    public bool Interactive => Channel is LoginChannel.AdminSession or LoginChannel.UserSession;

    /// <summary>
    /// This attempt's own id, new for every attempt a gateway makes. The retry filter sends the same request again
    /// when the first answer was lost (a silo killed on the way, a timeout), so a repeat carries the same id: the
    /// account grain answers it as it answered the first (<c>IAccountGrain.Authenticate</c>), and a wrong password
    /// counts towards the lockout once, not once per try.
    /// </summary>
    [Id(6)]
    public Guid AttemptId { get; init; } = Guid.CreateVersion7();
}

/// <summary>What an interactive session must do before anything else.</summary>
[Flags]
public enum LoginRestriction
{
    None = 0,
    /// <summary>The domain or department requires two-factor and the account has none: enrol first.</summary>
    MustEnrolTwoFactor = 1,
    /// <summary>An admin forced a password change, or the password no longer meets the policy.</summary>
    MustChangePassword = 2,
}
