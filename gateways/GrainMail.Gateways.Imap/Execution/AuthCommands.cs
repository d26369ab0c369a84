using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// Commands that change who the session is or how it talks: STARTTLS, LOGIN, AUTHENTICATE
/// (RFC 3501 6.2) and ENABLE (RFC 5161).
/// </summary>
internal sealed class AuthCommands(ImapSessionContext session)
{
    public async Task<bool> StartTlsAsync(string tag, CancellationToken ct)
    {
        if (session.Connection.Secure || session.Connection.Service == ImapService.Imaps) return await session.BadAsync(tag, "TLS is already active");
        session.Out.Line($"{tag} OK Begin TLS negotiation now");
        await session.FlushAsync(ct);
        // Anything the client pipelined after STARTTLS is still in the plaintext buffer: it becomes
        // part of the TLS handshake and fails it, so nothing sent before TLS is ever run after it.
        await session.Connection.StartTlsAsync(ct);
        return true;
    }

    public async Task<bool> LoginAsync(LoginCommand c)
    {
        var (tag, user, secret) = (c.Tag, c.User, c.Secret);
        if (!session.AuthAllowed) return session.No(tag, "[PRIVACYREQUIRED] " + GrainMail.Gateways.Common.Security.ForcedTls.Imap);
        return await CompleteLoginAsync(tag, user, secret);
    }

    public async Task<bool> AuthenticateAsync(AuthenticateCommand c, CancellationToken ct)
    {
        var (tag, mechanism, initial) = (c.Tag, c.Mechanism, c.InitialResponse);
        if (!SaslExchange.IsSupported(mechanism)) return session.No(tag, "[CANNOT] Unsupported authentication mechanism");
        if (!session.AuthAllowed) return session.No(tag, "[PRIVACYREQUIRED] " + GrainMail.Gateways.Common.Security.ForcedTls.Imap);
        var closed = false;
        var (credentials, error) = await SaslExchange.RunAsync(mechanism, initial, async challenge =>
        {
            session.Out.Line("+ " + challenge);
            await session.FlushAsync(ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(session.Options.LoginTimeout);
            var (status, line) = await session.Connection.ReadLineAsync(timeout.Token);
            if (status == ReadStatus.Closed)
            {
                closed = true;
                return null;
            }
            return Encoding.ASCII.GetString(line).Trim();
        });
        if (closed) return false;
        if (credentials is null)
            return await session.BadAsync(tag, error == SaslError.Cancelled ? "Authentication cancelled" : "Malformed authentication response");
        return await CompleteLoginAsync(tag, credentials.AuthenticationId, credentials.Password, credentials.AuthorizationId);
    }

    private async Task<bool> CompleteLoginAsync(string tag, string user, string secret, string authorizationId = "")
    {
        var server = session.Server;
        var address = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(server.Grains, user);
        if (address is null) return await AuthFailedAsync(tag);
        string? actFor = null;
        if (authorizationId.Length > 0)
        {
            actFor = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(server.Grains, authorizationId);
            if (actFor is null) return await AuthFailedAsync(tag);
        }
        if (!session.Connection.Secure && await GrainMail.Gateways.Common.Security.ForcedTls.RefusesPlaintextAsync(server.Grains, address))
            return session.No(tag, "[PRIVACYREQUIRED] " + GrainMail.Gateways.Common.Security.ForcedTls.Imap);
        // The account grain counts failures for every protocol, so IMAP, POP3 and SMTP share one lockout.
        var attempt = new LoginAttempt(secret, LoginChannel.Imap, session.Remote.ToString(), session.ClientName, actFor);
        var result = await server.Grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (result.Outcome != AuthOutcome.Success)
        {
            server.Logger.LogInformation("IMAP login failed for {User} from {Remote}: {Outcome}", address, session.Remote, result.Outcome);
            return await AuthFailedAsync(tag, result.Outcome switch
            {
                // Causes the user can act on get their reason; the rest share one answer.
                AuthOutcome.AppPasswordRequired or AuthOutcome.AddressNotAllowed => result.Reason,
                _ => null,
            });
        }
        var authenticated = address;
        address = result.MailboxOf(address);
        var mailbox = server.Grains.GetGrain<IMailboxGrain>(address);
        if (!await mailbox.Exists()) return session.No(tag, "[UNAVAILABLE] The mailbox is not available");
        // Known to the cluster from now on: revoking this credential (or the delegation) closes the connection.
        session.OpenSession = await server.Sessions.OpenAsync(authenticated, result.ActsFor, "imap", session.Remote.ToString(),
            result.AppPasswordName, session.Connection.Abort);
        session.User = address;
        session.MailboxGrain = mailbox;
        session.State = ImapSessionState.Authenticated;
        session.Out.Line($"{tag} OK [CAPABILITY {session.Capabilities()}] Logged in");
        return true;
    }

    private async Task<bool> AuthFailedAsync(string tag, string? reason = null)
    {
        // One answer for every cause (unknown user, wrong secret, locked, disabled): nothing to enumerate.
        session.Out.Line($"{tag} NO [AUTHENTICATIONFAILED] {reason ?? "Authentication failed"}");
        if (++session.AuthFailures < session.Options.MaxAuthFailures) return true;
        session.Out.Line("* BYE Too many authentication failures");
        await session.FlushAsync(session.ConnectionClosed);
        return false;
    }

    public bool Enable(EnableCommand c)
    {
        var enabled = new List<string>();
        foreach (var cap in c.Capabilities)
        {
            if (cap == "CONDSTORE" && !session.Condstore)
            {
                session.Condstore = true;
                enabled.Add(cap);
            }
            else if (cap == "QRESYNC" && !session.Qresync)
            {
                // RFC 7162 3.2.3: enabling QRESYNC enables CONDSTORE too.
                session.Qresync = true;
                session.Condstore = true;
                enabled.Add(cap);
            }
            else if (cap == "UTF8=ACCEPT" && !session.Utf8)
            {
                session.Utf8 = true;
                enabled.Add(cap);
            }
            else if (cap == "IMAP4REV2" && !session.Rev2)
            {
                // RFC 9051: mailbox names are UTF-8 (no modified UTF-7), SEARCH answers ESEARCH, no \Recent.
                session.Rev2 = true;
                session.Utf8 = true;
                enabled.Add("IMAP4rev2");
            }
        }
        session.Out.Line("* ENABLED" + string.Concat(enabled.Select(e => " " + e)));
        return session.Ok(c.Tag, "ENABLE completed");
    }

    /// <summary>
    /// UNAUTHENTICATE (RFC 8437 3): the session goes back to the not-authenticated state as a new
    /// connection would be, except for TLS and compression; the selected folder is closed without
    /// expunging and everything ENABLEd is forgotten.
    /// </summary>
    public async Task<bool> UnauthenticateAsync(UnauthenticateCommand c)
    {
        if (session.Selected is not null) await session.Updates.StopWatchingAsync();
        await session.Notify.StopAsync();
        session.Selected = null;
        session.SavedResult = [];
        session.User = null;
        session.MailboxGrain = null;
        if (session.OpenSession is { } open) await open.DisposeAsync();
        session.OpenSession = null;
        session.Utf8 = session.Condstore = session.Qresync = session.Rev2 = false;
        session.AuthFailures = 0;
        session.State = ImapSessionState.NotAuthenticated;
        return session.Ok(c.Tag, "UNAUTHENTICATE completed");
    }
}
