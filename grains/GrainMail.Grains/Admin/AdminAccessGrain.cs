using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Admin;
using GrainMail.Storage.Admin;
using Orleans.Concurrency;

namespace GrainMail.Grains.Admin;

/// <summary>Roles and sessions over PostgreSQL; stateless, so every silo serves it.</summary>
[StatelessWorker, Reentrant]
public sealed class AdminAccessGrain(AdminAccessStore store, AdminSessionOptions options, TimeProvider clock) : Grain, IAdminAccessGrain
{
    private DateTimeOffset _lastPurge;

    public async Task<RoleGrantResult> Grant(NewRoleGrant grant)
    {
        var info = await GrainFactory.GetGrain<IAccountGrain>(grant.Account).GetInfo();
        if (info is null) return new RoleGrantResult(RoleGrantStatus.NoSuchAccount);
        if (!await store.DomainExistsAsync(grant.Domain)) return new RoleGrantResult(RoleGrantStatus.NoSuchDomain);
        if (grant.DepartmentId is { } dep && (await store.DepartmentPlaceAsync(dep))?.Domain != grant.Domain)
            return new RoleGrantResult(RoleGrantStatus.NoSuchDepartment);
        await store.DeleteStaleRolesAsync(grant.Account, info.CreatedAt);
        var id = await store.InsertRoleAsync(grant, info.CreatedAt);
        if (id is null) return new RoleGrantResult(RoleGrantStatus.AlreadyGranted);
        return new RoleGrantResult(RoleGrantStatus.Granted, (await store.RoleAsync(id.Value))?.Grant);
    }

    public async Task<IReadOnlyList<AdminRoleGrant>> ListRoles(string? domain, string? account) =>
        (await store.RolesAsync(domain, account)).Select(r => r.Grant).ToList();

    public async Task<AdminRoleGrant?> GetRole(long id) => (await store.RoleAsync(id))?.Grant;

    public async Task<bool> Revoke(long id)
    {
        var account = await store.DeleteRoleAsync(id);
        if (account is null) return false;
        // The last role gone: its admin sessions end now, not at their next use.
        if ((await store.RolesAsync(null, account)).Count == 0) await store.DeleteSessionsOfAsync(account, SessionKind.Admin);
        return true;
    }

    public async Task<SessionStarted?> StartSession(string account, SessionKind kind, byte[] tokenHash)
    {
        var info = await GrainFactory.GetGrain<IAccountGrain>(account).GetInfo();
        if (info is not { Enabled: true }) return null;
        if (kind == SessionKind.Admin && (await CurrentRoles(account, info)).Count == 0) return null;
        await PurgeNowAndThen();
        var expires = clock.GetUtcNow() + options.AbsoluteLifetime;
        await store.InsertSessionAsync(tokenHash, account, kind, expires);
        return new SessionStarted(expires, options.IdleTimeout);
    }

    public async Task<SessionPrincipal?> ValidateSession(byte[] tokenHash)
    {
        var session = await store.UseSessionAsync(tokenHash, options.IdleTimeout, AdminSessionOptions.TouchEvery);
        if (session is null) return null;
        // One turn of the account for both its state and its login restrictions (the middleware used to
        // ask for the restrictions in a second call on every request).
        var check = await GrainFactory.GetGrain<IAccountSecurityGrain>(session.Account).CheckSession();
        var info = check.Info;
        if (info is not { Enabled: true })
        {
            // Disabled or deleted: every session of the account ends.
            await store.DeleteSessionsOfAsync(session.Account, SessionKind.Admin);
            await store.DeleteSessionsOfAsync(session.Account, SessionKind.User);
            return null;
        }
        IReadOnlyList<AdminRoleGrant> roles = [];
        if (session.Kind == SessionKind.Admin)
        {
            roles = await CurrentRoles(session.Account, info);
            if (roles.Count == 0)
            {
                await store.DeleteSessionsOfAsync(session.Account, SessionKind.Admin);
                return null;
            }
        }
        return new SessionPrincipal(session.Account, session.Kind, roles, session.ExpiresAt, check.Restrictions);
    }

    public Task<bool> EndSession(byte[] tokenHash) => store.DeleteSessionAsync(tokenHash);

    public Task<DirectoryPlace?> AccountPlace(string address) =>
        MailAddress.TryParse(address, out var lp, out var domain) ? store.AccountPlaceAsync(domain, lp) : Task.FromResult<DirectoryPlace?>(null);

    public Task<DirectoryPlace?> DepartmentPlace(long departmentId) => store.DepartmentPlaceAsync(departmentId);

    /// <summary>The account's grants made to this incarnation of it (PostgreSQL keeps microseconds, .NET ticks).</summary>
    private async Task<IReadOnlyList<AdminRoleGrant>> CurrentRoles(string account, AccountInfo info) =>
        (await store.RolesAsync(null, account))
            .Where(r => (r.AccountCreatedAt - info.CreatedAt).Duration() < TimeSpan.FromMilliseconds(1))
            .Select(r => r.Grant).ToList();

    private async Task PurgeNowAndThen()
    {
        var now = clock.GetUtcNow();
        if (now - _lastPurge < TimeSpan.FromMinutes(5)) return;
        _lastPurge = now;
        await store.PurgeSessionsAsync(options.IdleTimeout);
    }
}
