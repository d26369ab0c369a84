using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Storage.Audit;
using GrainMail.Storage.Logins;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Accounts;

/// <summary>
/// Login security of the account (issue 16) and delegation (issue 17): the authorization identity
/// check of every login, unlocking, delegations, and ending open mail sessions when a credential
/// stops being valid. The stores come from the activation's services, not the constructor, so
/// this concern stays in its own file.
/// </summary>
public sealed partial class AccountGrain : IAccountAccessGrain
{
    private DelegationStore DelegationRows => ServiceProvider.GetRequiredService<DelegationStore>();


    /// <summary>
    /// RFC 4616 authzid: acting for another mailbox needs that mailbox's delegation to this account.
    /// An authzid equal to the caller's own address is the same as none.
    /// </summary>
    private async Task<AuthResult> AuthorizeForAsync(LoginAttempt attempt, AuthResult result)
    {
        var self = this.GetPrimaryKeyString();
        var owner = attempt.AuthorizationIdentity;
        if (string.IsNullOrEmpty(owner) || string.Equals(owner, self, StringComparison.OrdinalIgnoreCase)) return result;
        if (await DelegationRows.IsDelegatedAsync(owner, self)) return result with { ActsFor = owner };
        return new AuthResult(AuthOutcome.NotDelegated, Reason: $"{owner} has not delegated to this account");
    }

    public async Task<bool> Unlock(SecurityActor actor)
    {
        await AdoptAsync();
        if (!S.Exists) return false;
        var was = S.LockedUntil;
        S.LockedUntil = null;
        _failures.Clear();
        await state.WriteStateAsync();
        await AuditAsync(actor, "account.unlock", this.GetPrimaryKeyString(), was is null ? "not-locked" : "ok",
            was is null ? null : new Dictionary<string, string> { ["lockedUntil"] = was.Value.ToString("O") });
        return true;
    }

    public Task<DateTimeOffset?> LockedUntil() =>
        Task.FromResult(S.LockedUntil is { } until && until > clock.GetUtcNow() ? S.LockedUntil : null);

    public async Task<DelegationStatus> AddDelegate(string delegateAddress, SecurityActor actor)
    {
        await AdoptAsync();
        var owner = this.GetPrimaryKeyString();
        if (!S.Exists) return DelegationStatus.NoSuchAccount;
        if (MailAddress.Normalize(delegateAddress) is not { } to) return DelegationStatus.NoSuchDelegate;
        if (to == owner) return DelegationStatus.Self;
        if (await GrainFactory.GetGrain<IAccountGrain>(to).GetInfo() is null) return DelegationStatus.NoSuchDelegate;
        var added = await DelegationRows.AddAsync(owner, to, actor.Actor);
        await AuditAsync(actor, "delegation.add", owner, added ? "ok" : "exists", new Dictionary<string, string> { ["delegate"] = to });
        return added ? DelegationStatus.Added : DelegationStatus.AlreadyExists;
    }

    public async Task<DelegationStatus> RemoveDelegate(string delegateAddress, SecurityActor actor)
    {
        var owner = this.GetPrimaryKeyString();
        if (MailAddress.Normalize(delegateAddress) is not { } to) return DelegationStatus.NotFound;
        var removed = await DelegationRows.RemoveAsync(owner, to);
        if (!removed) return DelegationStatus.NotFound;
        // The delegate loses access at once: his sessions on this mailbox end on every gateway.
        await EndMailSessionsAsync(to, new MailSessionEnd(MailSessionEndReason.DelegationRemoved, to, ActsFor: owner));
        await AuditAsync(actor, "delegation.remove", owner, "ok", new Dictionary<string, string> { ["delegate"] = to });
        return DelegationStatus.Removed;
    }

    public async Task<IReadOnlyList<DelegationInfo>> Delegations() =>
        (await DelegationRows.OfAsync(this.GetPrimaryKeyString())).Select(d => new DelegationInfo(d.Owner, d.Delegate, d.CreatedBy, d.CreatedAt)).ToList();

    public async Task<IReadOnlyList<AppPasswordInfo>> AppPasswordList()
    {
        await AdoptAsync();
        return S.AppPasswords.Select(a => new AppPasswordInfo(a.Name, a.CreatedAt)).ToList();
    }

    public async Task<AppPasswordStatus> RevokeAppPasswordBy(string name, SecurityActor actor)
    {
        var status = await RevokeAppPassword(name);
        if (status == AppPasswordStatus.Revoked)
            await AuditAsync(actor, "app-password.revoke", this.GetPrimaryKeyString(), "ok", new Dictionary<string, string> { ["name"] = name });
        return status;
    }

    /// <summary>
    /// Ends open IMAP/POP3 sessions through the account's session board (and API sessions when the
    /// password changed or the account was disabled). A failure is logged, not thrown: the
    /// credential change itself has happened and must be reported as such.
    /// </summary>
    private async Task EndMailSessionsAsync(string board, MailSessionEnd end, bool apiSessions = true)
    {
        try
        {
            var ended = await GrainFactory.GetGrain<ISessionBoardGrain>(board).End(end);
            if (apiSessions && end.Reason is MailSessionEndReason.PasswordChanged or MailSessionEndReason.AccountDisabled)
                ended += await ServiceProvider.GetRequiredService<WebSessionStore>().EndAllAsync(end.Account);
            if (ended > 0) logger.LogInformation("{Count} sessions of {Account} ended: {Reason}", ended, end.Account, end.Reason);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Ending the sessions of {Account} ({Reason}) failed", end.Account, end.Reason);
        }
    }

    /// <param name="apiSessions">
    /// Whether a password change or a disabled account also ends the account's API sessions (false for
    /// the user's own change, made from one of them).
    /// </param>
    private Task EndSessionsAfterAsync(MailSessionEndReason reason, string? appPassword = null, bool apiSessions = true)
    {
        var self = this.GetPrimaryKeyString();
        return EndMailSessionsAsync(self, new MailSessionEnd(reason, self, AppPassword: appPassword), apiSessions);
    }

    /// <summary>A deleted account ends its sessions and takes its delegations along (an address reused later inherits none).</summary>
    private async Task ForgetLoginSecurityAsync()
    {
        var self = this.GetPrimaryKeyString();
        await EndSessionsAfterAsync(MailSessionEndReason.AccountDisabled);
        foreach (var d in await DelegationRows.RemoveAllOfAsync(self))
        {
            if (d.Owner == self) await EndMailSessionsAsync(d.Delegate, new MailSessionEnd(MailSessionEndReason.DelegationRemoved, d.Delegate, ActsFor: self));
        }
    }

    private async Task AuditAsync(SecurityActor actor, string action, string target, string result, Dictionary<string, string>? detail)
    {
        try
        {
            await Audit.AppendAsync(new AuditRecord(actor.Actor, actor.Role, actor.ClientIp, action, target, result,
                detail is null ? null : JsonSerializer.Serialize(detail)));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Audit entry {Action} on {Target} could not be written", action, target);
        }
    }
}
