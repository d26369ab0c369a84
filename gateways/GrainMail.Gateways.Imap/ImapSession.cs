using GrainMail.Gateways.Common.Tls;
using System.IO.Pipelines;
using System.Net;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Execution;
using GrainMail.Gateways.Imap.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Imap;

/// <summary>
/// One IMAP connection (RFC 3501 / RFC 9051): the connection state machine — not authenticated,
/// authenticated, selected, logout. Commands are read whole (literals included, each bounded) by
/// <see cref="ImapCommandReader"/>, parsed by <see cref="ImapCommandParser"/> into typed records,
/// checked against the state here and run by their command family in <c>Execution/</c>, which share
/// one <see cref="ImapSessionContext"/> (response buffer, state, mailbox grain, selected folder).
/// </summary>
internal sealed class ImapSession : IImapConnection, IAsyncDisposable
{
    private readonly ImapServer _server;
    private readonly ConnectionContext _connection;
    private readonly ImapService _service;
    private readonly IPAddress _remote;
    private readonly ImapOptions _options;
    private readonly ImapSessionContext _session;
    private readonly AuthCommands _auth;
    private readonly FolderCommands _folders;
    private readonly MessageCommands _messages;
    private readonly SearchCommands _search;
    private readonly QuotaCommands _quota;
    private readonly IdleCommands _idle;

    private Stream _stream;
    private PipeReader _input;
    private ImapCommandReader _reader;
    private TlsLayer? _tls;
    private DeflateDuplexStream? _deflate;
    private readonly Action? _acknowledgeNow;

    public ImapSession(ImapServer server, ConnectionContext connection, ImapService service, IPAddress remote)
    {
        _server = server;
        _connection = connection;
        _service = service;
        _remote = remote;
        _options = server.Options;
        _stream = new DuplexStream(connection.Transport);
        _input = connection.Transport.Input;
        _acknowledgeNow = Common.Protocol.ImmediateAck.For(connection);
        _reader = NewReader(_input);
        _session = new ImapSessionContext(server, this, remote, connection.ConnectionClosed);
        _auth = new AuthCommands(_session);
        _folders = new FolderCommands(_session);
        _messages = new MessageCommands(_session);
        _search = new SearchCommands(_session);
        _quota = new QuotaCommands(_session);
        _idle = new IdleCommands(_session);
    }

    private ImapWriter Out => _session.Out;

    public bool Secure => _tls is not null;

    public ImapService Service => _service;

    private ImapCommandReader NewReader(PipeReader input) => new(input) { MaxLine = _options.MaxLine, MaxCommand = _options.MaxCommand, AcknowledgeNow = _acknowledgeNow };

    private string Capabilities() => _session.Capabilities();

    public async Task RunAsync(CancellationToken closed)
    {
        try
        {
            if (_service == ImapService.Imaps) await StartTlsAsync(closed);
            Out.Line($"* OK [CAPABILITY {Capabilities()}] {_options.HostName} GrainMail IMAP ready");
            await FlushAsync(closed);
            while (_session.State != ImapSessionState.Logout && !closed.IsCancellationRequested)
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

    public async ValueTask FlushAsync(CancellationToken ct) => await Out.FlushAsync(_stream, ct);

    public Task<(ReadStatus Status, byte[] Line)> ReadLineAsync(CancellationToken ct) => _reader.ReadLineAsync(ct);

    /// <summary>Reads and runs one command; false when the connection must close.</summary>
    private async Task<bool> ReadAndRunAsync(CancellationToken closed)
    {
        ReadStatus status;
        RawCommand? raw;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed))
        {
            timeout.CancelAfter(_session.State == ImapSessionState.NotAuthenticated ? _options.LoginTimeout : _options.IdleTimeout);
            try
            {
                var read = _reader.ReadCommandAsync(LiteralLimit, ContinueAsync, timeout.Token);
                // With NOTIFY the session speaks between commands (RFC 5465 3): what came in is written
                // while the next command is awaited.
                while (_session.Notify.Active && !read.IsCompleted)
                {
                    var woken = _session.Notify.WhenWokenAsync(_options.WatchRenewal, timeout.Token);
                    if (!_session.Notify.HasPending(inIdle: false) && await Task.WhenAny(read, woken) == read) break;
                    if (read.IsCompleted) break;
                    await WriteNotificationsAsync(inIdle: false, closed);
                    // The selected mailbox went away under the session (BYE was written): nothing more to read.
                    if (_session.State == ImapSessionState.Logout) return false;
                }
                (status, raw) = await read;
            }
            catch (OperationCanceledException) when (!closed.IsCancellationRequested)
            {
                Out.Line("* BYE Autologout; idle for too long");
                return false;
            }
        }
        var tag = raw is null ? null : ImapParser.TagOf(raw.FirstLine);
        switch (status)
        {
            case ReadStatus.Closed:
                return false;
            case ReadStatus.LineTooLong:
                Out.Line("* BAD Line too long");
                return await _session.CountErrorAsync();
            case ReadStatus.CommandTooLarge:
                Out.Line($"{tag ?? "*"} BAD Command too long");
                return await _session.CountErrorAsync();
            case ReadStatus.LiteralTooLarge:
                // The client waits for "+" that never comes: the command ends here and it may go on.
                Out.Line($"{tag ?? "*"} NO [TOOBIG] Literal larger than the limit of {LiteralLimit(raw!.FirstLine)} octets");
                return true;
            case ReadStatus.LiteralPlusTooLarge:
                // The octets of a non-synchronising literal are already on their way: the only safe end is to close.
                Out.Line($"* BYE [TOOBIG] Literal larger than the limit of {LiteralLimit(raw!.FirstLine)} octets");
                return false;
        }
        if (tag is null)
        {
            Out.Line("* BAD Missing or invalid tag");
            return await _session.CountErrorAsync();
        }
        var command = ImapCommandParser.Parse(raw!, _session.Utf8);
        if (command is ImapParseError { Name: "" })
        {
            Out.Line($"{tag} BAD Missing command");
            return await _session.CountErrorAsync();
        }
        var verb = command.Name;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return await DispatchAsync(command, closed);
        }
        catch (ImapSyntaxException e)
        {
            Out.Line($"{tag} BAD {e.Message}");
            return await _session.CountErrorAsync();
        }
        catch (Exception e) when (e is not IOException and not OperationCanceledException and not ObjectDisposedException
            and not System.Security.Authentication.AuthenticationException)
        {
            // A grain call or the database failed: the client may retry; the session goes on.
            _server.Logger.LogWarning(e, "IMAP {Verb} failed for {User} from {Remote}", verb, _session.User, _remote);
            Out.Line($"{tag} NO [UNAVAILABLE] Temporary server error, try again");
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
        await _session.OutputGate.WaitAsync(_connection.ConnectionClosed);
        try
        {
            Out.Line("+ Ready for literal data");
            await FlushAsync(_connection.ConnectionClosed);
        }
        finally
        {
            _session.OutputGate.Release();
        }
    }

    /// <summary>NOTIFY's untagged responses, written and flushed under the output gate (the reader may be asking for a literal).</summary>
    private async Task WriteNotificationsAsync(bool inIdle, CancellationToken ct)
    {
        await _session.OutputGate.WaitAsync(ct);
        try
        {
            await _session.Notify.WritePendingAsync(inIdle);
            await FlushAsync(ct);
        }
        catch (Exception e) when (e is not IOException and not OperationCanceledException and not ObjectDisposedException)
        {
            // A grain call failed: the notifications come with the next wake or the next command.
            _server.Logger.LogWarning(e, "IMAP NOTIFY update failed for {User} from {Remote}", _session.User, _remote);
        }
        finally
        {
            _session.OutputGate.Release();
        }
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
        if (!anyState && _session.State == ImapSessionState.NotAuthenticated && verb is not ("STARTTLS" or "LOGIN" or "AUTHENTICATE"))
            return await BadAsync(tag, ImapCommandParser.IsKnown(verb) ? "Log in first" : "Unknown command");
        if (_session.State != ImapSessionState.NotAuthenticated && verb is "STARTTLS" or "LOGIN" or "AUTHENTICATE")
            return await BadAsync(tag, "Already authenticated");
        if (_session.State == ImapSessionState.Authenticated && ImapCommandParser.IsSelectedCommand(verb))
            return await BadAsync(tag, "No mailbox selected");
        if (_session.Rev2 && Rev2Syntax.Removed(command) is { } removed) return await BadAsync(tag, removed);
        switch (command)
        {
            case ImapParseError error:
                return await BadAsync(tag, error.Reason);
            case InvalidMailboxName refused:
                return _session.No(tag, "[CANNOT] " + refused.Reason);
            case CapabilityCommand:
                Out.Line("* CAPABILITY " + Capabilities());
                return _session.Ok(tag, "CAPABILITY completed");
            case NoopCommand:
                // NOOP is the client's way to poll for updates (RFC 3501 6.1.2).
                if (_session.State == ImapSessionState.Selected) await _session.Updates.SyncAsync(allowExpunge: true, force: true);
                return _session.Ok(tag, "NOOP completed");
            case LogoutCommand:
                Out.Line("* BYE Logging out");
                _session.State = ImapSessionState.Logout;
                _session.Ok(tag, "LOGOUT completed");
                return false;
            case IdCommand id:
                // The client's name and version go into the login record; ours is our name only, nothing to fingerprint versions by.
                _session.ClientName = ClientNameOf(id.Fields);
                Out.Line("* ID (\"name\" \"GrainMail\")");
                return _session.Ok(tag, "ID completed");
            case StartTlsCommand: return await _auth.StartTlsAsync(tag, ct);
            case LoginCommand c: return await _auth.LoginAsync(c);
            case AuthenticateCommand c: return await _auth.AuthenticateAsync(c, ct);
            case UnauthenticateCommand c: return await _auth.UnauthenticateAsync(c);
            case CompressCommand c: return await CompressAsync(c, ct);
            case SortCommand c: return await _search.SortAsync(c);
            case ThreadCommand c: return await _search.ThreadAsync(c);
            case EnableCommand c: return _auth.Enable(c);
            case NamespaceCommand c: return _folders.Namespace(c);
            case ListCommand c: return await _folders.ListAsync(c);
            case SubscribeCommand c: return await _folders.SubscribeAsync(c);
            case CreateCommand c: return await _folders.CreateAsync(c);
            case DeleteCommand c: return await _folders.DeleteAsync(c);
            case RenameCommand c: return await _folders.RenameAsync(c);
            case SelectCommand c: return await _folders.SelectAsync(c);
            case StatusCommand c: return await _folders.StatusAsync(c);
            case AppendCommand c: return await _messages.AppendAsync(c);
            case GetQuotaRootCommand c: return await _quota.GetQuotaRootAsync(c);
            case GetQuotaCommand c: return await _quota.GetQuotaAsync(c);
            case SetQuotaCommand c: return _quota.SetQuota(c);
            case IdleCommand: return await _idle.IdleAsync(tag, ct);
            case NotifyCommand c: return await _session.Notify.NotifyAsync(c);
            case CheckCommand:
                await _session.Updates.SyncAsync(allowExpunge: true, force: true);
                return _session.Ok(tag, "CHECK completed");
            case CloseCommand c: return await _folders.CloseAsync(c);
            case ExpungeCommand c: return await _messages.ExpungeAsync(c);
            case FetchCommand c: return await _messages.FetchAsync(c);
            case StoreCommand c: return await _messages.StoreAsync(c);
            case SearchCommand c: return await _search.SearchAsync(c);
            case CopyCommand c: return await _messages.CopyAsync(c);
        }
        return await BadAsync(tag, "Unknown command");
    }

    private Task<bool> BadAsync(string tag, string text) => _session.BadAsync(tag, text);

    public async Task StartTlsAsync(CancellationToken ct)
    {
        _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
        _stream = _tls.Stream;
        _input = _tls.Input;
        _reader = NewReader(_input);
    }

    /// <summary>
    /// COMPRESS DEFLATE (RFC 4978 3): the OK goes out uncompressed, then both directions are raw
    /// DEFLATE over whatever is below (plain or TLS) until the connection ends.
    /// </summary>
    private async Task<bool> CompressAsync(CompressCommand c, CancellationToken ct)
    {
        if (c.Mechanism != "DEFLATE") return await BadAsync(c.Tag, "Unknown compression mechanism");
        if (_deflate is not null) return _session.No(c.Tag, "[COMPRESSIONACTIVE] DEFLATE is already active");
        _session.Ok(c.Tag, "DEFLATE active");
        await FlushAsync(ct);
        // What the client sent after the command is still unread in the pipe: the inflater starts there.
        _deflate = new DeflateDuplexStream(_stream, _input.AsStream(leaveOpen: true));
        _stream = _deflate;
        _input = PipeReader.Create(_deflate, new StreamPipeReaderOptions(leaveOpen: true));
        _reader = NewReader(_input);
        _session.Compressed = true;
        return true;
    }

    public void Abort(string reason) => _connection.Abort(new ConnectionAbortedException(reason));

    public async ValueTask DisposeAsync()
    {
        if (_session.OpenSession is { } open) await open.DisposeAsync();
        await _session.Updates.StopWatchingAsync();
        _session.Updates.ReleaseWatcher();
        await _session.Notify.StopAsync();
        if (_deflate is not null) await _deflate.DisposeAsync();
        if (_tls is not null) await _tls.DisposeAsync();
    }

    private static string? ClientNameOf(IReadOnlyDictionary<string, string?> fields)
    {
        if (!fields.TryGetValue("name", out var name) || string.IsNullOrWhiteSpace(name)) return null;
        var text = fields.TryGetValue("version", out var version) && !string.IsNullOrWhiteSpace(version) ? $"{name} {version}" : name;
        return text.Length <= 100 ? text : text[..100];
    }
}
