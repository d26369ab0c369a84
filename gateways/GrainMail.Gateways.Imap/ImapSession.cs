using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common;
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
        var parser = new ImapParser(raw!);
        string verb;
        try
        {
            parser.ReadAtom();
            parser.ExpectSpace();
            verb = parser.ReadAtom().ToUpperInvariant();
        }
        catch (ImapSyntaxException)
        {
            _out.Line($"{tag} BAD Missing command");
            return await CountErrorAsync();
        }
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await DispatchAsync(tag, verb, parser, closed);
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
            var name = new KeyValuePair<string, object?>("command", IsKnown(verb) || verb is "CAPABILITY" or "NOOP" or "LOGOUT" or "ID" or "STARTTLS" or "LOGIN" or "AUTHENTICATE" ? verb : "OTHER");
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

    private async Task<bool> DispatchAsync(string tag, string verb, ImapParser p, CancellationToken ct)
    {
        // Commands valid in every state.
        switch (verb)
        {
            case "CAPABILITY":
                p.ExpectEnd();
                _out.Line("* CAPABILITY " + Capabilities());
                return Ok(tag, "CAPABILITY completed");
            case "NOOP":
                p.ExpectEnd();
                if (_state == State.Selected) await SyncAsync(allowExpunge: true, force: true);
                return Ok(tag, "NOOP completed");
            case "LOGOUT":
                p.ExpectEnd();
                _out.Line("* BYE Logging out");
                _state = State.Logout;
                Ok(tag, "LOGOUT completed");
                return false;
            case "ID":
                return Id(tag, p);
        }
        if (_state == State.NotAuthenticated)
        {
            switch (verb)
            {
                case "STARTTLS": return await StartTlsCommandAsync(tag, p, ct);
                case "LOGIN": return await LoginAsync(tag, p);
                case "AUTHENTICATE": return await AuthenticateAsync(tag, p, ct);
            }
            return await BadAsync(tag, IsKnown(verb) ? "Log in first" : "Unknown command");
        }
        switch (verb)
        {
            case "STARTTLS":
            case "LOGIN":
            case "AUTHENTICATE":
                return await BadAsync(tag, "Already authenticated");
            case "ENABLE": return Enable(tag, p);
            case "NAMESPACE":
                p.ExpectEnd();
                _out.Line("* NAMESPACE ((\"\" \"/\")) NIL NIL");
                return Ok(tag, "NAMESPACE completed");
            case "LIST": return await ListAsync(tag, p, lsub: false);
            case "LSUB": return await ListAsync(tag, p, lsub: true);
            case "SUBSCRIBE": return await SubscribeAsync(tag, p, true);
            case "UNSUBSCRIBE": return await SubscribeAsync(tag, p, false);
            case "CREATE": return await CreateAsync(tag, p);
            case "DELETE": return await DeleteAsync(tag, p);
            case "RENAME": return await RenameAsync(tag, p);
            case "SELECT": return await SelectAsync(tag, p, readOnly: false);
            case "EXAMINE": return await SelectAsync(tag, p, readOnly: true);
            case "STATUS": return await StatusAsync(tag, p);
            case "APPEND": return await AppendAsync(tag, p);
            case "GETQUOTAROOT": return await GetQuotaRootAsync(tag, p);
            case "GETQUOTA": return await GetQuotaAsync(tag, p);
            case "SETQUOTA":
                return No(tag, "Quotas are set by the administrator");
            case "IDLE": return await IdleAsync(tag, p, ct);
        }
        if (_state != State.Selected)
            return await BadAsync(tag, IsKnown(verb) ? "No mailbox selected" : "Unknown command");
        switch (verb)
        {
            case "CHECK":
                p.ExpectEnd();
                await SyncAsync(allowExpunge: true, force: true);
                return Ok(tag, "CHECK completed");
            case "CLOSE": return await CloseAsync(tag, p, expunge: true);
            case "UNSELECT": return await CloseAsync(tag, p, expunge: false);
            case "EXPUNGE": return await ExpungeAsync(tag, p, uid: false);
            case "FETCH": return await FetchAsync(tag, p, uid: false);
            case "STORE": return await StoreAsync(tag, p, uid: false);
            case "SEARCH": return await SearchAsync(tag, p, uid: false);
            case "COPY": return await CopyAsync(tag, p, uid: false, move: false);
            case "MOVE": return await CopyAsync(tag, p, uid: false, move: true);
            case "UID":
                {
                    p.ExpectSpace();
                    var sub = p.ReadAtom().ToUpperInvariant();
                    switch (sub)
                    {
                        case "FETCH": return await FetchAsync(tag, p, uid: true);
                        case "STORE": return await StoreAsync(tag, p, uid: true);
                        case "SEARCH": return await SearchAsync(tag, p, uid: true);
                        case "COPY": return await CopyAsync(tag, p, uid: true, move: false);
                        case "MOVE": return await CopyAsync(tag, p, uid: true, move: true);
                        case "EXPUNGE": return await ExpungeAsync(tag, p, uid: true);
                        default: return await BadAsync(tag, "Unknown UID command");
                    }
                }
        }
        return await BadAsync(tag, "Unknown command");
    }

    private static bool IsKnown(string verb) => verb is "ENABLE" or "NAMESPACE" or "LIST" or "LSUB" or "SUBSCRIBE" or "UNSUBSCRIBE"
        or "CREATE" or "DELETE" or "RENAME" or "SELECT" or "EXAMINE" or "STATUS" or "APPEND" or "GETQUOTAROOT" or "GETQUOTA"
        or "SETQUOTA" or "IDLE" or "CHECK" or "CLOSE" or "UNSELECT" or "EXPUNGE" or "FETCH" or "STORE" or "SEARCH" or "COPY"
        or "MOVE" or "UID";

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
