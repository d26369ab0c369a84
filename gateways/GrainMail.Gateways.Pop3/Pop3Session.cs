using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common;
using GrainMail.Operations;
using GrainMail.Gateways.Common.Protocol;
using GrainMail.Gateways.Pop3.Protocol;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Pop3;

/// <summary>
/// One POP3 conversation (RFC 1939, CAPA, response codes and pipelining of RFC 2449, STLS of
/// RFC 2595, AUTH of RFC 5034, [AUTH]/[SYS/*] of RFC 3206): AUTHORIZATION, then TRANSACTION over a
/// snapshot of INBOX under the maildrop lock, then UPDATE at QUIT, where deletions are applied
/// (and retrieved messages marked \Seen for IMAP and webmail) and the lock is released.
/// </summary>
internal sealed class Pop3Session : IAsyncDisposable
{
    private readonly Pop3Server _server;
    private readonly ConnectionContext _connection;
    private IAsyncDisposable? _openSession;
    private readonly Pop3Service _service;
    private readonly IPAddress _remote;
    private readonly Pop3Options _options;
    private readonly Pop3Writer _out = new();
    private Stream _stream;
    private CrlfLineReader _reader;
    private TlsLayer? _tls;

    private string? _userName;
    private IMailboxGrain? _mailbox;
    private List<MessageMeta>? _messages;
    private readonly HashSet<int> _deleted = [];
    private readonly HashSet<long> _retrieved = [];
    private long _uidValidity;
    private int _errors;
    private int _authFailures;
    private bool _quit;

    // RFC 1939 §4: the maildrop lock, held from login to the end of the session.
    private readonly Guid _sessionId = Guid.NewGuid();
    private IMaildropLockGrain? _lock;
    private long _lockRenewedAt;

    /// <summary>Responses of pipelined commands are written together up to this size (RFC 2449 §6.6).</summary>
    private const int PipelinedOutputLimit = 64 * 1024;

    public Pop3Session(Pop3Server server, ConnectionContext connection, Pop3Service service, IPAddress remote)
    {
        _server = server;
        _connection = connection;
        _service = service;
        _remote = remote;
        _options = server.Options;
        _stream = new DuplexStream(connection.Transport);
        _reader = new CrlfLineReader(connection.Transport.Input, _options.MaxLine);
    }

    private bool AuthAllowed => _tls is not null || _options.AllowPlaintextAuth;

    private bool InTransaction => _messages is not null;

    public async Task RunAsync(CancellationToken closed)
    {
        if (_service == Pop3Service.Pop3s) await StartTlsAsync(closed);
        _out.Line("+OK GrainMail POP3 ready");
        await FlushAsync(closed);
        while (!_quit && !closed.IsCancellationRequested)
        {
            LineStatus status;
            byte[] raw;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed))
            {
                // RFC 1939 3: an autologout timer of at least 10 minutes once logged in.
                timeout.CancelAfter(InTransaction ? _options.AutologoutTimeout : _options.LoginTimeout);
                try
                {
                    (status, raw) = await _reader.ReadLineAsync(timeout.Token);
                }
                catch (OperationCanceledException) when (!closed.IsCancellationRequested)
                {
                    _out.Line("-ERR Autologout; idle for too long");
                    break;
                }
            }
            if (status == LineStatus.Closed) break;
            if (status == LineStatus.TooLong)
            {
                if (!Error("-ERR Line too long")) break;
            }
            else
            {
                var command = Pop3CommandParser.Parse(raw);
                try
                {
                    if (InTransaction) await RenewLockAsync();
                    await ExecuteAsync(command, closed);
                }
                catch (Exception e) when (e is not IOException and not OperationCanceledException and not ObjectDisposedException
                    and not System.Security.Authentication.AuthenticationException)
                {
                    _server.Logger.LogWarning(e, "POP3 {Verb} failed for {User} from {Remote}", command.Verb, _userName, _remote);
                    _out.Line("-ERR [SYS/TEMP] Temporary server error, try again");
                }
            }
            // RFC 2449 §6.6: while the client has sent more commands, their answers are collected
            // and written together, in order.
            if (_quit || _out.Length >= PipelinedOutputLimit || !AnotherLineWaiting()) await FlushAsync(closed);
        }
        await FlushAsync(CancellationToken.None);
    }

    /// <summary>Whether a whole command line is already buffered (pipelined behind the one just answered).</summary>
    private bool AnotherLineWaiting()
    {
        var input = _reader.Input;
        if (!input.TryRead(out var result)) return false;
        var waiting = result.Buffer.PositionOf((byte)'\n') is not null;
        // Nothing consumed or examined: the next ReadLineAsync sees the same bytes at once.
        input.AdvanceTo(result.Buffer.Start);
        return waiting;
    }

    private ValueTask FlushAsync(CancellationToken ct) => _out.FlushAsync(_stream, ct);

    private bool Error(string reply)
    {
        _out.Line(reply);
        if (++_errors < _options.MaxErrors) return true;
        _out.Line("-ERR Too many errors, closing");
        _quit = true;
        return false;
    }

    /// <summary>Runs one parsed command in the session's state (RFC 1939 4-6).</summary>
    private async Task ExecuteAsync(Pop3Command command, CancellationToken ct)
    {
        if (command is Pop3SyntaxError { Kind: Pop3ErrorKind.Nul } nul)
        {
            Error(nul.Reply);
            return;
        }
        // By command name: a fixed set, anything else counts as "OTHER".
        GrainMailMeters.Pop3Commands.Add(1, new KeyValuePair<string, object?>("command", Pop3CommandParser.IsKnownVerb(command.Verb) ? command.Verb : "OTHER"));
        switch (command)
        {
            case CapaCommand:
                _out.Line("+OK Capability list follows");
                foreach (var line in Pop3Capabilities.Lines(AuthAllowed, _tls is not null, SaslDecoder.Mechanisms)) _out.Line(line);
                _out.Line(".");
                return;
            case QuitCommand:
                await QuitAsync();
                return;
        }
        if (InTransaction) await TransactionAsync(command);
        else await AuthorizationAsync(command, ct);
    }

    private async Task AuthorizationAsync(Pop3Command command, CancellationToken ct)
    {
        switch (command)
        {
            case StlsCommand:
                if (_tls is not null) { Error("-ERR TLS is already active"); return; }
                _out.Line("+OK Begin TLS negotiation");
                await FlushAsync(ct);
                await StartTlsAsync(ct);
                _userName = null;
                return;
            // Without TLS a password is refused before anything else is looked at (RFC 2595 2.2).
            case UserCommand or PassCommand or Pop3SyntaxError { Verb: "USER" or "PASS" } when !AuthAllowed:
                Error("-ERR [AUTH] " + GrainMail.Gateways.Common.Security.ForcedTls.Pop3);
                return;
            case UserCommand user:
                _userName = user.Name;
                _out.Line("+OK Send PASS");
                return;
            case PassCommand pass:
                if (_userName is null) { Error("-ERR Send USER first"); return; }
                await LoginAsync(_userName, pass.Secret);
                return;
            case AuthCommand auth:
                await AuthAsync(auth, ct);
                return;
            case Pop3SyntaxError { Verb: "USER" } error:
                Error(error.Reply);
                return;
        }
        Error(Pop3CommandParser.IsTransactionVerb(command.Verb) ? "-ERR Log in first" : "-ERR Unknown command");
    }

    private async Task TransactionAsync(Pop3Command command)
    {
        switch (command)
        {
            case NoopCommand:
                _out.Line("+OK");
                return;
            case StatCommand:
                {
                    var live = Live().ToList();
                    _out.Line($"+OK {live.Count} {live.Sum(x => x.Message.Blob.Size)}");
                    return;
                }
            case ListCommand list:
                {
                    string Item((int N, MessageMeta Message) x) => list.Verb == "LIST" ? $"{x.N} {x.Message.Blob.Size}" : $"{x.N} {UniqueId(x.Message)}";
                    if (list.Message is { } n)
                    {
                        if (Message(n) is not { } one) return;
                        _out.Line("+OK " + Item(one));
                        return;
                    }
                    _out.Line("+OK");
                    foreach (var x in Live()) _out.Line(Item(x));
                    _out.Line(".");
                    return;
                }
            case RetrCommand retr:
                {
                    if (Message(retr.Message) is not { } x) return;
                    var content = await _server.Messages.GetAsync(x.Message.Blob);
                    if (content is null)
                    {
                        _out.Line("-ERR [SYS/TEMP] The message is no longer available");
                        return;
                    }
                    _out.Line($"+OK {content.Raw.Length} octets");
                    _out.DotStuffed(content.Raw);
                    _retrieved.Add(x.Message.Uid);
                    return;
                }
            case TopCommand top:
                {
                    if (Message(top.Message) is not { } x) return;
                    var content = await _server.Messages.GetAsync(x.Message.Blob);
                    if (content is null)
                    {
                        _out.Line("-ERR [SYS/TEMP] The message is no longer available");
                        return;
                    }
                    _out.Line("+OK Top of message follows");
                    _out.DotStuffed(content.Raw, top.Lines);
                    return;
                }
            case DeleCommand dele:
                {
                    if (Message(dele.Message) is not { } x) return;
                    _deleted.Add(x.N);
                    _out.Line($"+OK Message {x.N} deleted");
                    return;
                }
            case RsetCommand:
                _deleted.Clear();
                _out.Line($"+OK {_messages!.Count} messages");
                return;
            case Pop3SyntaxError error when Pop3CommandParser.IsTransactionVerb(error.Verb):
                Error(error.Reply);
                return;
            // RFC 1939 §4, RFC 2595 §4, RFC 5034 §4: only in the AUTHORIZATION state.
            case var other when Pop3CommandParser.IsAuthorizationVerb(other.Verb):
                Error("-ERR Already logged in");
                return;
            default:
                Error("-ERR Unknown command");
                return;
        }
    }

    // Stable across sessions while the folder lives: UIDVALIDITY and UID together.
    private string UniqueId(MessageMeta m) => $"{_uidValidity:x}.{m.Uid:x}";

    private IEnumerable<(int N, MessageMeta Message)> Live() =>
        _messages!.Select((m, i) => (i + 1, m)).Where(x => !_deleted.Contains(x.Item1));

    private (int N, MessageMeta Message)? Message(int n)
    {
        if (n < 1 || n > _messages!.Count)
        {
            Error("-ERR No such message");
            return null;
        }
        if (_deleted.Contains(n))
        {
            _out.Line("-ERR Message already deleted");
            return null;
        }
        return (n, _messages[n - 1]);
    }

    private async Task AuthAsync(AuthCommand auth, CancellationToken ct)
    {
        if (auth.Mechanism is not { } mechanism)
        {
            // RFC 5034 allows AUTH without arguments to list mechanisms.
            _out.Line("+OK");
            foreach (var m in SaslDecoder.Mechanisms) _out.Line(m);
            _out.Line(".");
            return;
        }
        if (!SaslExchange.IsSupported(mechanism)) { Error("-ERR Unsupported mechanism"); return; }
        if (!AuthAllowed) { Error("-ERR [AUTH] " + GrainMail.Gateways.Common.Security.ForcedTls.Pop3); return; }
        var (credentials, error) = await SaslExchange.RunAsync(mechanism, auth.InitialResponse, async challenge =>
        {
            _out.Line("+ " + challenge);
            await FlushAsync(ct);
            var (status, line) = await _reader.ReadLineAsync(ct);
            return status == LineStatus.Line ? Encoding.ASCII.GetString(line).Trim() : null;
        });
        if (credentials is null)
        {
            Error(error == SaslError.Cancelled ? "-ERR Authentication cancelled" : "-ERR Malformed authentication response");
            return;
        }
        await LoginAsync(credentials.AuthenticationId, credentials.Password, credentials.AuthorizationId);
    }

    private async Task LoginAsync(string user, string secret, string authorizationId = "")
    {
        var address = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(_server.Grains, user);
        string? actFor = null;
        if (address is not null && authorizationId.Length > 0)
        {
            actFor = await GrainMail.Contracts.Domains.LoginNames.CanonicalAsync(_server.Grains, authorizationId);
            if (actFor is null) address = null;
        }
        if (address is not null && _tls is null && await GrainMail.Gateways.Common.Security.ForcedTls.RefusesPlaintextAsync(_server.Grains, address))
        {
            Error("-ERR [AUTH] " + GrainMail.Gateways.Common.Security.ForcedTls.Pop3);
            return;
        }
        var attempt = new LoginAttempt(secret, LoginChannel.Pop3, _remote.ToString(), AuthorizationIdentity: actFor);
        var authenticated = address;
        var result = address is null ? null : await _server.Grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (result?.Outcome != AuthOutcome.Success)
        {
            _server.Logger.LogInformation("POP3 login failed for {User} from {Remote}: {Outcome}", address, _remote, result?.Outcome);
            AuthFailed(result?.Outcome is AuthOutcome.AppPasswordRequired or AuthOutcome.AddressNotAllowed ? result.Reason : null);
            return;
        }
        address = result.MailboxOf(address!);
        // RFC 1939 §4: exclusive access to the maildrop; RFC 2449 §8.1.2: [IN-USE] when another session has it.
        var maildropLock = _server.Grains.GetGrain<IMaildropLockGrain>(address!);
        if (!await maildropLock.TryAcquire(_sessionId, LockLease))
        {
            _userName = null;
            _out.Line("-ERR [IN-USE] The maildrop is in use by another POP3 session");
            return;
        }
        _lock = maildropLock;
        _lockRenewedAt = Environment.TickCount64;
        var mailbox = _server.Grains.GetGrain<IMailboxGrain>(address!);
        var snapshot = await mailbox.Open("INBOX", claimRecent: false);
        if (snapshot is null)
        {
            // A lock taken before a refusal is released first (RFC 1939 §4).
            await ReleaseLockAsync();
            _userName = null;
            _out.Line("-ERR [SYS/PERM] The mailbox is not available");
            return;
        }
        _mailbox = mailbox;
        _userName = address;
        // Known to the cluster from now on: revoking this credential (or the delegation) closes the connection.
        _openSession = await _server.Sessions.OpenAsync(authenticated!, result.ActsFor, "pop3", _remote.ToString(), result.AppPasswordName,
            reason => _connection.Abort(new ConnectionAbortedException(reason)));
        _uidValidity = snapshot.Info.UidValidity;
        _messages = [.. snapshot.Messages];
        _out.Line($"+OK Logged in, {_messages.Count} messages");
    }

    // The lease outlasts the longest silence the autologout timer allows, plus the renewal interval.
    private TimeSpan LockLease => _options.AutologoutTimeout + 2 * LockRenewal;

    private static readonly TimeSpan LockRenewal = TimeSpan.FromMinutes(1);

    private async Task RenewLockAsync()
    {
        if (_lock is null || Environment.TickCount64 - _lockRenewedAt < LockRenewal.TotalMilliseconds) return;
        if (!await _lock.TryAcquire(_sessionId, LockLease))
            _server.Logger.LogWarning("POP3 session of {User} lost its maildrop lock", _userName);
        _lockRenewedAt = Environment.TickCount64;
    }

    private async Task ReleaseLockAsync()
    {
        if (_lock is not { } held) return;
        _lock = null;
        await held.Release(_sessionId);
    }

    private void AuthFailed(string? reason = null)
    {
        _userName = null;
        // RFC 3206 [AUTH]: the same answer for every cause, nothing to enumerate accounts by (apart
        // from causes the user must act on, such as "use an app password").
        _out.Line($"-ERR [AUTH] {reason ?? "Authentication failed"}");
        if (++_authFailures >= _options.MaxAuthFailures)
        {
            _out.Line("-ERR Too many authentication failures, closing");
            _quit = true;
        }
    }

    private async Task QuitAsync()
    {
        _quit = true;
        if (!InTransaction)
        {
            _out.Line("+OK Bye");
            return;
        }
        // UPDATE state (RFC 1939 §6): only now do deletions take effect, then the lock goes.
        var deleted = _deleted.Select(n => _messages![n - 1].Uid).ToList();
        var seen = _retrieved.Except(deleted).ToList();
        try
        {
            if (deleted.Count > 0)
            {
                var flagged = await _mailbox!.StoreFlags("INBOX", deleted, new FlagChange(FlagChangeMode.Add, MessageFlags.Deleted, []));
                var expunged = flagged.Status == MailboxOpStatus.Ok ? await _mailbox.Expunge("INBOX", deleted) : null;
                if (expunged?.Status != MailboxOpStatus.Ok)
                {
                    _out.Line("-ERR [SYS/PERM] Some deleted messages not removed: the mailbox is not available");
                    return;
                }
            }
            if (seen.Count > 0) await _mailbox!.StoreFlags("INBOX", seen, new FlagChange(FlagChangeMode.Add, MessageFlags.Seen, []));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _server.Logger.LogWarning(e, "POP3 UPDATE failed for {User}", _userName);
            _out.Line("-ERR [SYS/TEMP] Some deleted messages not removed, try again");
            return;
        }
        finally
        {
            await ReleaseLockQuietlyAsync();
        }
        _out.Line($"+OK Bye, {deleted.Count} messages deleted");
    }

    private async Task ReleaseLockQuietlyAsync()
    {
        try
        {
            await ReleaseLockAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The lease runs out by itself.
            _server.Logger.LogInformation(e, "POP3 maildrop lock of {User} not released", _userName);
        }
    }

    private async Task StartTlsAsync(CancellationToken ct)
    {
        _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
        _stream = _tls.Stream;
        _reader = new CrlfLineReader(_tls.Input, _options.MaxLine);
    }

    public async ValueTask DisposeAsync()
    {
        // A session that ends without QUIT (dropped, autologout) applies nothing but lets go of the lock.
        if (_openSession is not null) await _openSession.DisposeAsync();
        await ReleaseLockQuietlyAsync();
        if (_tls is not null) await _tls.DisposeAsync();
    }
}
