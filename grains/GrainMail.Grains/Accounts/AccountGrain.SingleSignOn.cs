using GrainMail.Contracts.Accounts;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// Single sign-on (issue 15): the integration's signed request is the credential, so no secret is
/// checked here; everything else a login goes through is the same as on the other channels — the
/// login IP rules judge the browser that redeems the ticket, and the attempt lands in the login
/// history and may send the new-location notice (the guard around <see cref="Authenticate"/>).
/// </summary>
public sealed partial class AccountGrain
{
    public async Task<AuthResult> SignOn(LoginAttempt attempt)
    {
        var account = this.GetPrimaryKeyString();
        var result = await guard.BeforeVerifyAsync(account, attempt) ?? await SignOnCheckAsync();
        await guard.AfterAttemptAsync(account, attempt, result);
        return result;
    }

    // A lock counts failed secrets; a sign-on presents none, so it is not refused by one (the
    // enterprise's own login decided). A disabled or deleted account is refused.
    private async Task<AuthResult> SignOnCheckAsync()
    {
        await AdoptAsync();
        if (!S.Exists) return new AuthResult(AuthOutcome.NoSuchAccount);
        if (!S.Enabled) return new AuthResult(AuthOutcome.Disabled);
        return new AuthResult(AuthOutcome.Success);
    }
}
