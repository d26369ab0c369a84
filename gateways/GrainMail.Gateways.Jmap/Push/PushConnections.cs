using System.Security.Claims;
using GrainMail.Gateways.Common.Sessions;
using GrainMail.Gateways.Http.Sessions;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Jmap.Push;

/// <summary>
/// Ties a push connection to the credential it was opened with. It is registered with the
/// gateway's <see cref="OpenMailSessions"/> like an IMAP session (channel "jmap-push"), so that a
/// password change, an app password's revocation, a disabled account or the user ending the session
/// closes it across the cluster, as it closes IMAP. A bearer session token is also checked again every
/// <see cref="RecheckEvery"/>: an API session that is logged out ends no mail session on the board.
/// </summary>
public sealed class PushConnections(OpenMailSessions sessions, IGrainFactory grains)
{
    public const string Channel = "jmap-push";

    public static readonly TimeSpan RecheckEvery = TimeSpan.FromMinutes(2);

    public Task<IAsyncDisposable> RegisterAsync(HttpContext http, Action<string> close)
    {
        var mailbox = http.User.Address();
        var account = http.User.FindFirstValue(AccountAuth.AuthenticatedClaim) ?? mailbox;
        return sessions.OpenAsync(account, mailbox != account ? mailbox : null, Channel,
            http.Connection.RemoteIpAddress?.ToString() ?? "", http.User.FindFirstValue(AccountAuth.AppPasswordClaim), close);
    }

    /// <summary>How often a push connection re-reads the user's accounts, so a new delegation starts being pushed.</summary>
    public static readonly TimeSpan AccountsEvery = TimeSpan.FromSeconds(60);

    /// <summary>Re-reads the accounts (the personal one and those delegated to the user) and subscribes the feed to them.</summary>
    public static async Task RefreshAccountsAsync(HttpContext http, IGrainFactory grains, PushFeed feed)
    {
        try
        {
            var accounts = await Jmap.JmapEndpoints.AccountsOfAsync(http.User, grains);
            if (!accounts.Select(a => a.Id).SequenceEqual(feed.Accounts.Select(a => a.Id))) await feed.SetAccountsAsync(accounts);
        }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            // The cluster is unreachable for a moment: keep what we have, look again later.
        }
    }

    /// <summary>
    /// Before pushing a change of a delegated account: when the delegation is gone, the feed drops the
    /// account and the caller starts over (true); the change is never sent. Changes of the personal account
    /// alone need no look.
    /// </summary>
    public static async Task<bool> DropRevokedAsync(HttpContext http, IGrainFactory grains, PushFeed feed, Dictionary<string, Dictionary<string, string>> changed)
    {
        var delegated = feed.Accounts.Where(a => !a.IsPersonal).Select(a => a.Id).ToHashSet(StringComparer.Ordinal);
        if (!changed.Keys.Any(delegated.Contains)) return false;
        var before = feed.Accounts.Select(a => a.Id).ToList();
        await RefreshAccountsAsync(http, grains, feed);
        return !feed.Accounts.Select(a => a.Id).SequenceEqual(before);
    }

    /// <summary>The hash of the request's bearer session token, or null (Basic with an app password: the board covers it).</summary>
    public static byte[]? SessionTokenHash(HttpContext http)
    {
        var presented = GrainMail.Gateways.Http.Auth.AdminTokenAuthenticationHandler.PresentedToken(http.Request.Headers.Authorization.ToString(), acceptBasic: false);
        return presented is not null && SessionTokens.IsSession(presented) ? SessionTokens.Hash(presented) : null;
    }

    /// <summary>False when the session token is no longer valid (logged out, expired).</summary>
    public async Task<bool> StillValidAsync(byte[]? tokenHash)
    {
        if (tokenHash is null) return true;
        try
        {
            return await grains.GetGrain<GrainMail.Contracts.Admin.IAdminAccessGrain>(0).ValidateSession(tokenHash) is not null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The cluster is unreachable for a moment: keep the connection, check again later.
            return true;
        }
    }
}
