using GrainMail.Contracts.Accounts;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// What surrounds every login check of <see cref="AccountGrain"/>: rules that refuse before the
/// secret is looked at (login IP allow-lists) and what happens after each attempt (the login
/// record, the new-location and lockout notices). One implementation is registered in the silo.
/// </summary>
public interface ILoginGuard
{
    /// <summary>A refusal, or null to go on and check the secret.</summary>
    ValueTask<AuthResult?> BeforeVerifyAsync(string account, LoginAttempt attempt);

    /// <summary>Runs after every attempt, successful or not; must not throw for a recording failure.</summary>
    ValueTask AfterAttemptAsync(string account, LoginAttempt attempt, AuthResult result);
}
