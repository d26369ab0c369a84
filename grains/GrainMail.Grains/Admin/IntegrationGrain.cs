using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Storage.Admin;
using Orleans.Concurrency;

namespace GrainMail.Grains.Admin;

/// <summary>Integrations, their replay store and sign-on tickets over PostgreSQL; stateless, so every silo serves it.</summary>
[StatelessWorker, Reentrant]
public sealed class IntegrationGrain(IntegrationStore store, AdminSessionOptions options, TimeProvider clock) : Grain, IIntegrationGrain
{
    private DateTimeOffset _lastPurge;

    public async Task<IntegrationRegisterStatus> Register(Integration integration) =>
        await store.InsertAsync(integration) ? IntegrationRegisterStatus.Registered : IntegrationRegisterStatus.NoSuchDomain;

    public async Task<IReadOnlyList<Integration>> List(string? domain) => await store.ListAsync(domain);

    public Task<Integration?> Get(Guid id) => store.GetAsync(id);

    public Task<bool> Delete(Guid id) => store.DeleteAsync(id);

    public async Task<bool> UseNonce(Guid integrationId, string nonce, DateTimeOffset keepUntil)
    {
        var now = clock.GetUtcNow();
        if (now - _lastPurge > TimeSpan.FromMinutes(1))
        {
            _lastPurge = now;
            await store.PurgeAsync();
        }
        return await store.UseNonceAsync(integrationId, nonce, keepUntil);
    }

    public async Task<DateTimeOffset> IssueSsoTicket(Guid integrationId, string account, byte[] ticketHash)
    {
        var expires = clock.GetUtcNow() + options.SsoTicketLifetime;
        await store.InsertTicketAsync(ticketHash, integrationId, account, expires);
        return expires;
    }

    public async Task<SsoRedemption> RedeemSsoTicket(byte[] ticketHash, byte[] sessionTokenHash, SsoBrowser browser)
    {
        var account = await store.TakeTicketAsync(ticketHash);
        if (account is null) return new SsoRedemption(SsoRedeemStatus.NoSuchTicket);
        // Taken before the check: a refused ticket stays spent (it was meant for one sign-on, now).
        var attempt = new LoginAttempt("", LoginChannel.SingleSignOn, browser.RemoteIp, browser.ClientName);
        var signOn = await GrainFactory.GetGrain<IAccountGrain>(account).SignOn(attempt);
        if (signOn.Outcome != AuthOutcome.Success) return new SsoRedemption(SsoRedeemStatus.Refused, Outcome: signOn.Outcome, Reason: signOn.Reason);
        var session = await GrainFactory.GetGrain<IAdminAccessGrain>(0).StartSession(account, SessionKind.User, sessionTokenHash);
        return session is null
            ? new SsoRedemption(SsoRedeemStatus.Refused, Outcome: AuthOutcome.Disabled)
            : new SsoRedemption(SsoRedeemStatus.Redeemed, new SsoRedeemed(account, session));
    }
}
