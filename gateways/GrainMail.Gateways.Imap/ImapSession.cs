using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap;

/// <summary>
/// One IMAP connection (RFC 3501 with the extensions in <see cref="Capabilities"/>): an explicit
/// state machine — not authenticated, authenticated, selected, logout. Commands are read whole
/// (literals included, each bounded) by <see cref="ImapCommandReader"/>, parsed by
/// <see cref="ImapParser"/>, and answered through one buffered <see cref="ImapWriter"/>.
/// The command families live in the other parts of this class.
/// </summary>
internal sealed partial class ImapSession : IAsyncDisposable
{
    private enum State
    {
        NotAuthenticated,
        Authenticated,
        Selected,
        Logout,
    }

    private readonly ImapServer _server;
    private readonly ConnectionContext _connection;
    private readonly ImapService _service;
    private readonly IPAddress _remote;
    private readonly ImapOptions _options;
    private readonly ImapWriter _out = new();

    private Stream _stream;
    private ImapCommandReader _reader;
    private TlsLayer? _tls;

    private State _state = State.NotAuthenticated;
    private string? _user;
    private IMailboxGrain? _mailbox;
    private int _errors;
    private int _authFailures;
    private bool _utf8;
    private bool _condstore;

    public ImapSession(ImapServer server, ConnectionContext connection, ImapService service, IPAddress remote)
    {
        _server = server;
        _connection = connection;
        _service = service;
        _remote = remote;
        _options = server.Options;
        _stream = new DuplexStream(connection.Transport);
        _reader = NewReader(connection.Transport.Input);
    }

    private ImapCommandReader NewReader(PipeReader input) => new(input) { MaxLine = _options.MaxLine, MaxCommand = _options.MaxCommand };

    private bool Secure => _tls is not null;

    private bool AuthAllowed => Secure || _options.AllowPlaintextAuth;

    private string Capabilities()
    {
        var caps = new List<string> { "IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE" };
        if (_state == State.NotAuthenticated)
        {
            if (!Secure && _service == ImapService.Imap) caps.Add("STARTTLS");
            if (AuthAllowed) caps.AddRange(SaslDecoder.Mechanisms.Select(m => "AUTH=" + m));
            else caps.Add("LOGINDISABLED");
        }
        else
        {
            caps.AddRange(["NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CONDSTORE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
                "SPECIAL-USE", "QUOTA", "QUOTA=RES-STORAGE", "STATUS=SIZE", "UTF8=ACCEPT", $"APPENDLIMIT={_options.AppendLimit}"]);
        }
        return string.Join(' ', caps);
    }

    public async Task RunAsync(CancellationToken closed)
    {
        try
        {
            if (_service == ImapService.Imaps) await StartTlsAsync(closed);
            _out.Line($"* OK [CAPABILITY {Capabilities()}] {_options.HostName} GrainMail IMAP ready");
            await FlushAsync(closed);
            while (_state != State.Logout && !closed.IsCancellationRequested)
            {
                if (!await ReadAndRunAsync(closed)) break;
                await FlushAsync(closed);
            }
        }
        finally
        {
            try
            {
                await FlushAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
            {
                // The client is gone.
            }
        }
    }

    private async ValueTask FlushAsync(CancellationToken ct) => await _out.FlushAsync(_stream, ct);

    /// <summary>Reads and runs one command; false when the connection must close.</summary>
    private async Task<bool> ReadAndRunAsync(CancellationToken closed)
    {
        ReadStatus status;
        RawCommand? raw;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed))
        {
            timeout.CancelAfter(_state == State.NotAuthenticated ? _options.LoginTimeout : _options.IdleTimeout);
            try
            {
                (status, raw) = await _reader.ReadCommandAsync(LiteralLimit, ContinueAsync, timeout.Token);
            }
            catch (OperationCanceledException) when (!closed.IsCancellationRequested)
            {
                _out.Line("* BYE Autologout; idle for too long");
                return false;
            }
        }
        var tag = raw is null ? null : ImapParser.TagOf(raw.FirstLine);
        switch (status)
        {
            case ReadStatus.Closed:
                return false;
            case ReadStatus.LineTooLong:
                _out.Line("* BAD Line too long");
                return await CountErrorAsync();
            case ReadStatus.CommandTooLarge:
                _out.Line($"{tag ?? "*"} BAD Command too long");
                return await CountErrorAsync();
            case ReadStatus.LiteralTooLarge:
                // The client waits for "+" that never comes: the command ends here and it may go on.
                _out.Line($"{tag ?? "*"} NO [TOOBIG] Literal larger than the limit of {LiteralLimit(raw!.FirstLine)} octets");
                return true;
            case ReadStatus.LiteralPlusTooLarge:
                // The octets of a non-synchronising literal are already on their way: the only safe end is to close.
                _out.Line($"* BYE [TOOBIG] Literal larger than the limit of {LiteralLimit(raw!.FirstLine)} octets");
                return false;
        }
        if (tag is null)
        {
            _out.Line("* BAD Missing or invalid tag");
            return await CountErrorAsync();
        }
        var command = ImapCommandParser.Parse(raw!, _utf8);
        if (command is ImapParseError { Name: "" })
        {
            _out.Line($"{tag} BAD Missing command");
            return await CountErrorAsync();
        }
        var verb = command.Name;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await DispatchAsync(command, closed);
        }
        catch (ImapSyntaxException e)
        {
            _out.Line($"{tag} BAD {e.Message}");
            return await CountErrorAsync();
        }
        catch (Exception e) when (e is not IOException and not OperationCanceledException and not ObjectDisposedException
            and not System.Security.Authentication.AuthenticationException)
        {
            // A grain call or the database failed: the client may retry; the session goes on.
            _server.Logger.LogWarning(e, "IMAP {Verb} failed for {User} from {Remote}", verb, _user, _remote);
            _out.Line($"{tag} NO [UNAVAILABLE] Temporary server error, try again");
            return true;
        }
        finally
        {
            // By command name: a fixed set, anything else counts as "OTHER".
            var name = new KeyValuePair<string, object?>("command", ImapCommandParser.IsKnown(verb) ? verb : "OTHER");
            GrainMail.Operations.GrainMailMeters.ImapCommands.Add(1, name);
            if (verb != "IDLE")
                GrainMail.Operations.GrainMailMeters.ImapCommandDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, name);
        }
    }

    private long LiteralLimit(byte[] firstLine)
    {
        // Only APPEND carries messages; every other literal (a name, a search string) is small.
        var text = System.Text.Encoding.ASCII.GetString(firstLine, 0, Math.Min(firstLine.Length, 80));
        var parts = text.Split(' ', 3);
        return parts.Length >= 2 && parts[1].Equals("APPEND", StringComparison.OrdinalIgnoreCase) ? _options.AppendLimit : 64 * 1024;
    }

    private async Task ContinueAsync()
    {
        _out.Line("+ Ready for literal data");
        await FlushAsync(_connection.ConnectionClosed);
    }

    private async Task<bool> CountErrorAsync()
    {
        if (++_errors < _options.MaxErrors) return true;
        _out.Line("* BYE Too many errors");
        await FlushAsync(_connection.ConnectionClosed);
        return false;
    }

    /// <summary>
    /// Runs a parsed command in the session's state (RFC 3501 3): a command of another state is
    /// refused before its arguments are looked at, then a parse error is BAD, then the handler runs.
    /// </summary>
    private async Task<bool> DispatchAsync(ImapCommand command, CancellationToken ct)
    {
        var tag = command.Tag;
        var verb = command.Name;
        var anyState = verb is "CAPABILITY" or "NOOP" or "LOGOUT" or "ID";
        if (!anyState && _state == State.NotAuthenticated && verb is not ("STARTTLS" or "LOGIN" or "AUTHENTICATE"))
            return await BadAsync(tag, ImapCommandParser.IsKnown(verb) ? "Log in first" : "Unknown command");
        if (_state != State.NotAuthenticated && verb is "STARTTLS" or "LOGIN" or "AUTHENTICATE")
            return await BadAsync(tag, "Already authenticated");
        if (_state == State.Authenticated && ImapCommandParser.IsSelectedCommand(verb))
            return await BadAsync(tag, "No mailbox selected");
        switch (command)
        {
            case ImapParseError error:
                return await BadAsync(tag, error.Reason);
            case CapabilityCommand:
                _out.Line("* CAPABILITY " + Capabilities());
                return Ok(tag, "CAPABILITY completed");
            case NoopCommand:
                if (_state == State.Selected) await SyncAsync(allowExpunge: true, force: true);
                return Ok(tag, "NOOP completed");
            case LogoutCommand:
                _out.Line("* BYE Logging out");
                _state = State.Logout;
                Ok(tag, "LOGOUT completed");
                return false;
            case IdCommand:
                // The client's identification is ignored; ours is our name only, nothing to fingerprint versions by.
                _out.Line("* ID (\"name\" \"GrainMail\")");
                return Ok(tag, "ID completed");
            case StartTlsCommand: return await StartTlsCommandAsync(tag, ct);
            case LoginCommand c: return await LoginAsync(c);
            case AuthenticateCommand c: return await AuthenticateAsync(c, ct);
            case EnableCommand c: return Enable(c);
            case NamespaceCommand:
                _out.Line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                return Ok(tag, "NAMESPACE completed");
            case ListCommand c: return await ListAsync(c);
            case SubscribeCommand c: return await SubscribeAsync(c);
            case CreateCommand c: return await CreateAsync(c);
            case DeleteCommand c: return await DeleteAsync(c);
            case RenameCommand c: return await RenameAsync(c);
            case SelectCommand c: return await SelectAsync(c);
            case StatusCommand c: return await StatusAsync(c);
            case AppendCommand c: return await AppendAsync(c);
            case GetQuotaRootCommand c: return await GetQuotaRootAsync(c);
            case GetQuotaCommand c: return await GetQuotaAsync(c);
            case SetQuotaCommand:
                return No(tag, "Quotas are set by the administrator");
            case IdleCommand: return await IdleAsync(tag, ct);
            case CheckCommand:
                await SyncAsync(allowExpunge: true, force: true);
                return Ok(tag, "CHECK completed");
            case CloseCommand c: return await CloseAsync(c);
            case ExpungeCommand c: return await ExpungeAsync(c);
            case FetchCommand c: return await FetchAsync(c);
            case StoreCommand c: return await StoreAsync(c);
            case SearchCommand c: return await SearchAsync(c);
            case CopyCommand c: return await CopyAsync(c);
        }
        return await BadAsync(tag, "Unknown command");
    }

    private bool Ok(string tag, string text)
    {
        _out.Line($"{tag} OK {text}");
        return true;
    }

    private bool No(string tag, string text)
    {
        _out.Line($"{tag} NO {text}");
        return true;
    }

    private async Task<bool> BadAsync(string tag, string text)
    {
        _out.Line($"{tag} BAD {text}");
        return await CountErrorAsync();
    }

    private async Task StartTlsAsync(CancellationToken ct)
    {
        _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
        _stream = _tls.Stream;
        _reader = NewReader(_tls.Input);
    }

    public async ValueTask DisposeAsync()
    {
        await StopWatchingAsync();
        ReleaseWatcher();
        if (_tls is not null) await _tls.DisposeAsync();
    }
}
