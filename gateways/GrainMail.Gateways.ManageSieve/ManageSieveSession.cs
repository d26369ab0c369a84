using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Sieve;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Audit;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using GrainMail.Gateways.ManageSieve.Protocol;
using GrainMail.Sieve.Validation;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.ManageSieve;

/// <summary>
/// One ManageSieve conversation (RFC 5804): capabilities, STARTTLS, AUTHENTICATE PLAIN (over TLS
/// only, through the account grain's one login check), then the script commands, each answered
/// by the account's <see cref="ISieveGrain"/>. Parsing is <see cref="ManageSieveParser"/>'s.
/// </summary>
internal sealed class ManageSieveSession : IAsyncDisposable
{
    private readonly ManageSieveServer _server;
    private readonly IPAddress _remote;
    private readonly ManageSieveOptions _options;
    private readonly StringBuilder _out = new();
    private Stream _stream;
    private PipeReader _input;
    private TlsLayer? _tls;
    private string? _user;
    private string? _authenticated;
    private int _errors;
    private int _authFailures;
    private bool _quit;

    /// <summary>A literal may carry a script of the largest size plus room for the rest of the command.</summary>
    private const long MaxLiteral = SieveQuota.MaxScriptBytes + 1024;

    public ManageSieveSession(ManageSieveServer server, ConnectionContext connection, IPAddress remote)
    {
        _server = server;
        _remote = remote;
        _options = server.Options;
        _stream = new DuplexStream(connection.Transport);
        _input = connection.Transport.Input;
    }

    private bool AuthAllowed => _tls is not null || _options.AllowPlaintextAuth;

    public async Task RunAsync(CancellationToken closed)
    {
        Capabilities();
        await FlushAsync(closed);
        while (!_quit && !closed.IsCancellationRequested)
        {
            var command = await ReadCommandAsync(closed);
            if (command is null) break;
            try
            {
                await ExecuteAsync(command, closed);
            }
            catch (Exception e) when (e is not IOException and not OperationCanceledException and not ObjectDisposedException
                and not System.Security.Authentication.AuthenticationException)
            {
                _server.Logger.LogWarning(e, "ManageSieve {Verb} failed for {User} from {Remote}", command.Verb, _user, _remote);
                _out.Append("NO (TRYLATER) \"Temporary server error, try again\"\r\n");
            }
            await FlushAsync(closed);
        }
        await FlushAsync(CancellationToken.None);
    }

    /// <summary>Reads until the parser has a whole command; null when the client left or idled out.</summary>
    private async Task<ManageSieveCommand?> ReadCommandAsync(CancellationToken closed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
        timeout.CancelAfter(_options.IdleTimeout);
        long skip = 0;
        while (true)
        {
            ReadResult read;
            try
            {
                read = await _input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!closed.IsCancellationRequested)
            {
                _out.Append("BYE \"Idle for too long\"\r\n");
                return null;
            }
            var buffer = read.Buffer;
            if (skip > 0)
            {
                var n = Math.Min(skip, buffer.Length);
                skip -= n;
                _input.AdvanceTo(buffer.GetPosition(n));
                if (skip > 0 || n == 0 && read.IsCompleted) { if (read.IsCompleted) return null; continue; }
                // The refused literal's octets are gone; the rest of its line is dropped by the next parse error or command.
                continue;
            }
            var result = ManageSieveParser.TryParse(buffer, MaxLiteral);
            switch (result.Status)
            {
                case ParseStatus.Command:
                    _input.AdvanceTo(buffer.GetPosition(result.Consumed));
                    return result.Command;
                case ParseStatus.Error:
                    if (result.Consumed < 0)
                    {
                        _out.Append(result.Command is ManageSieveSyntaxError { Reply: var r } && r.StartsWith("BYE", StringComparison.Ordinal) ? r : "BYE \"Line too long\"").Append("\r\n");
                        _input.AdvanceTo(buffer.End);
                        return null;
                    }
                    _input.AdvanceTo(buffer.GetPosition(result.Consumed));
                    skip = result.Skip;
                    if (skip > 0)
                    {
                        // Answered once the literal is skipped; its line's CRLF follows and reads as an empty command, which is ignored.
                        _out.Append(((ManageSieveSyntaxError)result.Command!).Reply).Append("\r\n");
                        await FlushAsync(closed);
                        _skipEmptyLine = true;
                        continue;
                    }
                    return result.Command;
                default:
                    if (read.IsCompleted) return null;
                    _input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
            }
        }
    }

    private bool _skipEmptyLine;

    private ValueTask FlushAsync(CancellationToken ct)
    {
        if (_out.Length == 0) return ValueTask.CompletedTask;
        var bytes = Encoding.UTF8.GetBytes(_out.ToString());
        _out.Clear();
        return WriteAsync(bytes, ct);
    }

    private async ValueTask WriteAsync(byte[] bytes, CancellationToken ct)
    {
        await _stream.WriteAsync(bytes, ct);
        await _stream.FlushAsync(ct);
    }

    private void Capabilities()
    {
        _out.Append("\"IMPLEMENTATION\" \"GrainMail\"\r\n");
        _out.Append("\"SASL\" \"").Append(AuthAllowed && _user is null ? "PLAIN" : "").Append("\"\r\n");
        _out.Append("\"SIEVE\" \"").Append(string.Join(' ', SieveSignatures.Extensions)).Append("\"\r\n");
        if (_tls is null) _out.Append("\"STARTTLS\"\r\n");
        _out.Append("\"MAXREDIRECTS\" \"").Append(SieveQuota.MaxRedirects).Append("\"\r\n");
        if (_user is not null) _out.Append("\"OWNER\" ").Append(ManageSieveParser.Quote(_user)).Append("\r\n");
        _out.Append("\"VERSION\" \"1.0\"\r\n");
        _out.Append("OK\r\n");
    }

    private void Error(string reply)
    {
        _out.Append(reply).Append("\r\n");
        if (++_errors < _options.MaxErrors) return;
        _out.Append("BYE \"Too many errors\"\r\n");
        _quit = true;
    }

    private async Task ExecuteAsync(ManageSieveCommand command, CancellationToken ct)
    {
        switch (command)
        {
            case ManageSieveSyntaxError { Reply: "NO \"Empty command\"" } when _skipEmptyLine:
                _skipEmptyLine = false;
                return;
            case ManageSieveSyntaxError e:
                Error(e.Reply);
                return;
            case CapabilityCommand:
                Capabilities();
                return;
            case LogoutCommand:
                _out.Append("OK \"Bye\"\r\n");
                _quit = true;
                return;
            case NoopCommand noop:
                _out.Append(noop.Tag is { } tag ? $"OK (TAG {ManageSieveParser.Quote(tag)}) \"Done\"\r\n" : "OK \"Done\"\r\n");
                return;
            case StartTlsCommand:
                if (_tls is not null) { Error("NO \"TLS is already active\""); return; }
                _out.Append("OK \"Begin TLS negotiation\"\r\n");
                await FlushAsync(ct);
                _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
                _stream = _tls.Stream;
                _input = _tls.Input;
                // RFC 5804 2.2: the capabilities again, now over TLS.
                Capabilities();
                return;
            case AuthenticateCommand auth:
                await AuthenticateAsync(auth, ct);
                return;
        }
        if (_user is null)
        {
            Error("NO \"Authenticate first\"");
            return;
        }
        var scripts = _server.Grains.GetGrain<ISieveGrain>(_user);
        switch (command)
        {
            case UnauthenticateCommand:
                _user = null;
                _authenticated = null;
                _out.Append("OK\r\n");
                return;
            case ListScriptsCommand:
                foreach (var s in await scripts.List())
                    _out.Append(ManageSieveParser.Quote(s.Name)).Append(s.Active ? " ACTIVE" : "").Append("\r\n");
                _out.Append("OK\r\n");
                return;
            case HaveSpaceCommand have:
                Reply(await scripts.HaveSpace(have.Name, have.Size));
                return;
            case PutScriptCommand put:
                {
                    if (ManageSieveParser.ScriptText(put.Content) is not { } text) { Error("NO \"The script is not UTF-8\""); return; }
                    Reply(await AuditedAsync("sieve.put", put.Name, scripts.Put(put.Name, text)));
                    return;
                }
            case CheckScriptCommand check:
                {
                    if (ManageSieveParser.ScriptText(check.Content) is not { } text) { Error("NO \"The script is not UTF-8\""); return; }
                    Reply(await scripts.Check(text));
                    return;
                }
            case GetScriptCommand get:
                {
                    var text = await scripts.Get(get.Name);
                    if (text is null) { _out.Append("NO (NONEXISTENT) \"No such script\"\r\n"); return; }
                    _out.Append('{').Append(Encoding.UTF8.GetByteCount(text)).Append("}\r\n").Append(text).Append("\r\nOK\r\n");
                    return;
                }
            case SetActiveCommand set:
                // RFC 5804 2.8: the empty name deactivates.
                Reply(set.Name.Length == 0 ? await AuditedAsync("sieve.deactivate", null, scripts.SetActive(""))
                    : await AuditedAsync("sieve.activate", set.Name, scripts.SetActive(set.Name)));
                return;
            case DeleteScriptCommand del:
                Reply(await AuditedAsync("sieve.delete", del.Name, scripts.Delete(del.Name)));
                return;
            case RenameScriptCommand ren:
                Reply(await AuditedAsync("sieve.rename", ren.OldName, scripts.Rename(ren.OldName, ren.NewName), ren.NewName));
                return;
        }
        Error("NO \"Unknown command\"");
    }

    /// <summary>A change to the scripts, written to the audit log as the user API's are (issue 17).</summary>
    private async Task<SieveOpResult> AuditedAsync(string action, string? script, Task<SieveOpResult> change, string? newName = null)
    {
        var result = await change;
        var ip = (_remote.IsIPv4MappedToIPv6 ? _remote.MapToIPv4() : _remote).ToString();
        await SieveChangeAudit.RecordAsync(_server.Grains, _server.Logger,
            new SieveChange(_authenticated ?? _user!, _user!, SieveChangeAudit.ManageSieve, ip, action, script, result.Status, newName));
        return result;
    }

    /// <summary>RFC 5804 1.3 response codes for each refusal.</summary>
    private void Reply(SieveOpResult result)
    {
        var code = result.Status switch
        {
            SieveOpStatus.Ok => null,
            SieveOpStatus.NotFound => "(NONEXISTENT) ",
            SieveOpStatus.Exists => "(ALREADYEXISTS) ",
            SieveOpStatus.Active => "(ACTIVE) ",
            SieveOpStatus.TooLarge => "(QUOTA/MAXSIZE) ",
            SieveOpStatus.TooMany => "(QUOTA/MAXSCRIPTS) ",
            _ => "",
        };
        if (code is null) _out.Append("OK\r\n");
        else _out.Append("NO ").Append(code).Append(ManageSieveParser.Quote(result.Reason ?? result.Status.ToString())).Append("\r\n");
    }

    private async Task AuthenticateAsync(AuthenticateCommand auth, CancellationToken ct)
    {
        if (_user is not null) { Error("NO \"Already authenticated\""); return; }
        if (auth.Mechanism != "PLAIN") { Error("NO \"Unsupported mechanism\""); return; }
        // RFC 5804 2.1: no password in clear.
        if (!AuthAllowed) { Error("NO (ENCRYPT-NEEDED) \"Use STARTTLS first\""); return; }
        var response = auth.InitialResponse;
        if (response is null)
        {
            // The empty challenge; the client answers with a string on a line of its own.
            _out.Append("\"\"\r\n");
            await FlushAsync(ct);
            var line = await ReadCommandLineStringAsync(ct);
            if (line is null) { _quit = true; return; }
            response = line;
        }
        var (credentials, error) = SaslDecoder.DecodePlain(response);
        if (credentials is null)
        {
            Error(error == SaslError.Cancelled ? "NO \"Authentication cancelled\"" : "NO \"Malformed authentication response\"");
            return;
        }
        var address = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(_server.Grains, credentials.AuthenticationId);
        string? actFor = null;
        if (address is not null && credentials.AuthorizationId.Length > 0)
        {
            actFor = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(_server.Grains, credentials.AuthorizationId);
            if (actFor is null) address = null;
        }
        var attempt = new LoginAttempt(credentials.Password, LoginChannel.ManageSieve, _remote.ToString(), AuthorizationIdentity: actFor);
        var result = address is null ? null : await _server.Grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (result?.Outcome != AuthOutcome.Success)
        {
            _server.Logger.LogInformation("ManageSieve login failed for {User} from {Remote}: {Outcome}", address, _remote, result?.Outcome);
            var reason = result?.Outcome is AuthOutcome.AppPasswordRequired or AuthOutcome.AddressNotAllowed ? result.Reason : null;
            _out.Append("NO ").Append(ManageSieveParser.Quote(reason ?? "Authentication failed")).Append("\r\n");
            if (++_authFailures >= _options.MaxAuthFailures)
            {
                _out.Append("BYE \"Too many authentication failures\"\r\n");
                _quit = true;
            }
            return;
        }
        _user = result.MailboxOf(address!);
        _authenticated = address;
        _out.Append("OK \"Logged in\"\r\n");
    }

    /// <summary>The client's answer to a SASL challenge: one string (quoted or literal) on its own line; null when it left.</summary>
    private async Task<string?> ReadCommandLineStringAsync(CancellationToken ct)
    {
        while (true)
        {
            var read = await _input.ReadAsync(ct);
            var buffer = read.Buffer;
            var parsed = ManageSieveParser.TryParseSaslResponse(buffer);
            if (parsed.Status == ParseStatus.Incomplete)
            {
                if (read.IsCompleted) return null;
                _input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }
            _input.AdvanceTo(parsed.Consumed < 0 ? buffer.End : buffer.GetPosition(parsed.Consumed));
            return parsed.Command is SaslResponseCommand answer ? answer.Response : "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_tls is not null) await _tls.DisposeAsync();
    }
}
