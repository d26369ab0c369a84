using GrainMail.Gateways.Common.Sasl;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap;

// Connection state commands: STARTTLS, LOGIN, AUTHENTICATE, ENABLE (executed from their parsed records).
internal sealed partial class ImapSession
{
    private async Task<bool> StartTlsCommandAsync(string tag, CancellationToken ct)
    {
        if (Secure || _service == ImapService.Imaps) return await BadAsync(tag, "TLS is already active");
        _out.Line($"{tag} OK Begin TLS negotiation now");
        await FlushAsync(ct);
        // Anything the client pipelined after STARTTLS is still in the plaintext buffer: it becomes
        // part of the TLS handshake and fails it, so nothing sent before TLS is ever run after it.
        await StartTlsAsync(ct);
        return true;
    }

    private async Task<bool> LoginAsync(LoginCommand c)
    {
        var (tag, user, secret) = (c.Tag, c.User, c.Secret);
        if (!AuthAllowed) return No(tag, "[PRIVACYREQUIRED] LOGIN is disabled until STARTTLS");
        return await CompleteLoginAsync(tag, user, secret);
    }

    private async Task<bool> AuthenticateAsync(AuthenticateCommand c, CancellationToken ct)
    {
        var (tag, mechanism, initial) = (c.Tag, c.Mechanism, c.InitialResponse);
        if (!SaslExchange.IsSupported(mechanism)) return No(tag, "[CANNOT] Unsupported authentication mechanism");
        if (!AuthAllowed) return No(tag, "[PRIVACYREQUIRED] Authentication is disabled until STARTTLS");
        var closed = false;
        var (credentials, error) = await SaslExchange.RunAsync(mechanism, initial, async challenge =>
        {
            _out.Line("+ " + challenge);
            await FlushAsync(ct);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.LoginTimeout);
            var (status, line) = await _reader.ReadLineAsync(timeout.Token);
            if (status == ReadStatus.Closed)
            {
                closed = true;
                return null;
            }
            return Encoding.ASCII.GetString(line).Trim();
        });
        if (closed) return false;
        if (credentials is null)
            return await BadAsync(tag, error == SaslError.Cancelled ? "Authentication cancelled" : "Malformed authentication response");
        if (credentials.AuthorizationId.Length > 0 &&
            !string.Equals(credentials.AuthorizationId, credentials.AuthenticationId, StringComparison.OrdinalIgnoreCase))
            return await AuthFailedAsync(tag);
        return await CompleteLoginAsync(tag, credentials.AuthenticationId, credentials.Password);
    }

    private async Task<bool> CompleteLoginAsync(string tag, string user, string secret)
    {
        var address = MailAddress.Normalize(user);
        if (address is null) return await AuthFailedAsync(tag);
        var result = await _server.Grains.GetGrain<IAccountGrain>(address).Authenticate(secret, _remote.ToString());
        if (result.Outcome != AuthOutcome.Success)
        {
            _server.Logger.LogInformation("IMAP login failed for {User} from {Remote}: {Outcome}", address, _remote, result.Outcome);
            return await AuthFailedAsync(tag);
        }
        var mailbox = _server.Grains.GetGrain<IMailboxGrain>(address);
        if (!await mailbox.Exists()) return No(tag, "[UNAVAILABLE] The mailbox is not available");
        _user = address;
        _mailbox = mailbox;
        _state = State.Authenticated;
        _out.Line($"{tag} OK [CAPABILITY {Capabilities()}] Logged in");
        return true;
    }

    private async Task<bool> AuthFailedAsync(string tag)
    {
        // One answer for every cause (unknown user, wrong secret, locked, disabled): nothing to enumerate.
        _out.Line($"{tag} NO [AUTHENTICATIONFAILED] Authentication failed");
        if (++_authFailures < _options.MaxAuthFailures) return true;
        _out.Line("* BYE Too many authentication failures");
        await FlushAsync(_connection.ConnectionClosed);
        return false;
    }

    private bool Enable(EnableCommand c)
    {
        var tag = c.Tag;
        var enabled = new List<string>();
        foreach (var cap in c.Capabilities)
        {
            if (cap == "CONDSTORE" && !_condstore)
            {
                _condstore = true;
                enabled.Add(cap);
            }
            else if (cap == "UTF8=ACCEPT" && !_utf8)
            {
                _utf8 = true;
                enabled.Add(cap);
            }
        }
        _out.Line("* ENABLED" + string.Concat(enabled.Select(c => " " + c)));
        return Ok(tag, "ENABLE completed");
    }
}
