using GrainMail.Operations.Spool;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Intake;
using GrainMail.Gateways.Common.Intake;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common;
using GrainMail.Operations;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Gateways.Smtp;

/// <summary>
/// One SMTP conversation (RFC 5321 with ESMTP extensions), an explicit state machine: greeting,
/// EHLO, optional STARTTLS and AUTH, then transactions of MAIL, RCPT and DATA or BDAT. A message
/// gets 250 only after the durable commit of <see cref="MessageSubmitter"/>.
/// </summary>
internal sealed class SmtpSession : IAsyncDisposable
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private readonly SmtpServer _server;
    private readonly ConnectionContext _connection;
    private readonly SmtpService _service;
    private readonly IPAddress _remote;
    private readonly SmtpOptions _options;

    private Stream _stream;
    private SmtpReader _reader;
    private TlsLayer? _tls;

    private string? _helo;
    private bool _extended;
    private string? _user;
    private int _errors;
    private int _authFailures;
    private bool _quit;

    // Replies wait here while the client has already pipelined its next command, and go out in
    // one write when it has not (RFC 2920: fewer packets and wake-ups for both sides).
    private readonly ArrayBufferWriter<byte> _replies = new(1024);

    // The transaction in progress.
    private bool _inMail;
    private string? _sender;
    private long? _declaredSize;
    private bool _smtpUtf8;
    private string? _dsn;
    private long _sizeLimit;
    private readonly List<(string Address, IReadOnlyList<string> Mailboxes, IReadOnlyList<string> External, string? Dsn)> _recipients = [];
    private MessageSpool? _chunks;
    private bool _requireTls;
    private bool _chunksTooLarge;

    public SmtpSession(SmtpServer server, ConnectionContext connection, SmtpService service, IPAddress remote)
    {
        _server = server;
        _connection = connection;
        _service = service;
        _remote = remote;
        _options = server.Options;
        _stream = new DuplexStream(connection.Transport);
        _reader = new SmtpReader(connection.Transport.Input);
    }

    private bool Secure => _tls is not null;

    private bool AuthAllowed => _service != SmtpService.Mx && (Secure || _options.AllowPlaintextAuth);

    public async Task RunAsync(CancellationToken closed)
    {
        try
        {
            await ConverseAsync(closed);
        }
        finally
        {
            try
            {
                await FlushRepliesAsync();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The client is gone; nothing left to tell it.
            }
        }
    }

    private async Task ConverseAsync(CancellationToken closed)
    {
        if (_service == SmtpService.Submissions) await StartTlsAsync(closed);
        await ReplyAsync($"220 {_options.HostName} ESMTP GrainMail ready");
        while (!_quit && !closed.IsCancellationRequested)
        {
            LineStatus status;
            byte[] raw;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed))
            {
                timeout.CancelAfter(_options.CommandTimeout);
                try
                {
                    (status, raw) = await _reader.ReadLineAsync(_options.MaxCommandLine, timeout.Token);
                }
                catch (OperationCanceledException) when (!closed.IsCancellationRequested)
                {
                    await ReplyAsync("421 4.4.2 Timeout waiting for a command, closing");
                    return;
                }
            }
            if (status == LineStatus.Closed) return;
            if (status == LineStatus.TooLong)
            {
                if (!await ErrorAsync("500 5.5.2 Line too long")) return;
                continue;
            }
            if (Array.IndexOf(raw, (byte)0) >= 0)
            {
                if (!await ErrorAsync("500 5.5.2 Syntax error: NUL in command")) return;
                continue;
            }
            string line;
            try
            {
                line = StrictUtf8.GetString(raw);
            }
            catch (DecoderFallbackException)
            {
                if (!await ErrorAsync("500 5.5.2 Syntax error: invalid UTF-8 in command")) return;
                continue;
            }
            try
            {
                if (!await DispatchAsync(line, closed)) return;
            }
            catch (Exception e) when (e is not IOException and not OperationCanceledException
                and not System.Security.Authentication.AuthenticationException and not ObjectDisposedException)
            {
                // A grain call or the database failed: a temporary error the client may retry,
                // never a dropped connection without an answer.
                _server.Logger.LogWarning(e, "SMTP command failed for {Remote}", _remote);
                await ReplyAsync("451 4.3.0 Temporary server error, try again later");
            }
        }
    }

    /// <summary>Runs one command; false when the session must end.</summary>
    private async Task<bool> DispatchAsync(string line, CancellationToken ct)
    {
        var space = line.IndexOf(' ');
        var verb = (space < 0 ? line : line[..space]).ToUpperInvariant();
        var args = space < 0 ? "" : line[(space + 1)..];
        switch (verb)
        {
            case "EHLO": return await HeloAsync(args, extended: true);
            case "HELO": return await HeloAsync(args, extended: false);
            case "STARTTLS": return await StartTlsCommandAsync(args, ct);
            case "AUTH": return await AuthAsync(args, ct);
            case "MAIL": return await MailAsync(args);
            case "RCPT": return await RcptAsync(args);
            case "DATA": return await DataAsync(args, ct);
            case "BDAT": return await BdatAsync(args, ct);
            case "RSET":
                ResetTransaction();
                await ReplyAsync("250 2.0.0 Reset");
                return true;
            case "NOOP":
                await ReplyAsync("250 2.0.0 OK");
                return true;
            case "VRFY":
                await ReplyAsync("252 2.5.0 Cannot verify the user, but will accept the message and attempt delivery");
                return true;
            case "HELP":
                await ReplyAsync("214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT");
                return true;
            case "QUIT":
                await ReplyAsync("221 2.0.0 Bye");
                _quit = true;
                return false;
            default:
                return await ErrorAsync("500 5.5.1 Unknown command");
        }
    }

    private async Task<bool> HeloAsync(string args, bool extended)
    {
        var name = args.Trim();
        if (name.Length == 0 || name.Contains(' ')) return await ErrorAsync($"501 5.5.4 Syntax: {(extended ? "EHLO" : "HELO")} hostname");
        ResetTransaction();
        _helo = name;
        _extended = extended;
        if (!extended)
        {
            await ReplyAsync($"250 {_options.HostName}");
            return true;
        }
        var lines = new List<string>
        {
            _options.HostName,
            "PIPELINING",
            $"SIZE {_options.MaxMessageBytes}",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "CHUNKING",
            "DSN",
        };
        if (!Secure) lines.Add("STARTTLS");
        else lines.Add("REQUIRETLS"); // RFC 8689: offered only once TLS is in place
        if (AuthAllowed && _user is null) lines.Add("AUTH " + string.Join(' ', SaslDecoder.Mechanisms));
        await ReplyLinesAsync(250, lines);
        return true;
    }

    private async Task<bool> StartTlsCommandAsync(string args, CancellationToken ct)
    {
        if (args.Length > 0) return await ErrorAsync("501 5.5.4 STARTTLS takes no arguments");
        if (Secure) return await ErrorAsync("503 5.5.1 TLS already active");
        if (_reader.HasBufferedInput)
        {
            // Commands pipelined after STARTTLS would be read as if they came over TLS (CVE-2011-0411).
            return await ErrorAsync("501 5.5.4 STARTTLS must be the last command in a pipeline");
        }
        await ReplyAsync("220 2.0.0 Ready to start TLS");
        await FlushRepliesAsync();
        await StartTlsAsync(ct);
        // RFC 3207 4.2: everything learnt before TLS is forgotten.
        _helo = null;
        _user = null;
        ResetTransaction();
        return true;
    }

    private async Task StartTlsAsync(CancellationToken ct)
    {
        _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
        _stream = _tls.Stream;
        _reader = new SmtpReader(_tls.Input);
    }

    private async Task<bool> AuthAsync(string args, CancellationToken ct)
    {
        if (_service == SmtpService.Mx) return await ErrorAsync("502 5.5.1 AUTH is not offered on this port");
        if (!AuthAllowed) return await ErrorAsync("530 5.7.0 Must issue a STARTTLS command first");
        if (_helo is null) return await ErrorAsync("503 5.5.1 Send EHLO first");
        if (_user is not null) return await ErrorAsync("503 5.5.1 Already authenticated");
        if (_inMail) return await ErrorAsync("503 5.5.1 AUTH not allowed during a mail transaction");
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > 2) return await ErrorAsync("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
        if (!SaslExchange.IsSupported(parts[0])) return await ErrorAsync("504 5.5.4 Unrecognized authentication mechanism");
        var (credentials, error) = await SaslExchange.RunAsync(parts[0], parts.Length == 2 ? parts[1] : null, c => ChallengeAsync(c, ct));
        if (credentials is null)
        {
            return error == SaslError.Cancelled
                ? await ErrorAsync("501 5.7.0 Authentication cancelled")
                : await ErrorAsync("501 5.5.2 Malformed authentication response");
        }
        if (credentials.AuthorizationId.Length > 0 &&
            !string.Equals(credentials.AuthorizationId, credentials.AuthenticationId, StringComparison.OrdinalIgnoreCase))
            return await AuthFailedAsync();
        var (user, secret) = (credentials.AuthenticationId, credentials.Password);
        var address = MailAddress.Normalize(user);
        if (address is null) return await AuthFailedAsync();
        var result = await _server.Grains.GetGrain<IAccountGrain>(address).Authenticate(secret, _remote.ToString());
        if (result.Outcome != AuthOutcome.Success)
        {
            _server.Logger.LogInformation("SMTP AUTH failed for {User} from {Remote}: {Outcome}", address, _remote, result.Outcome);
            return await AuthFailedAsync();
        }
        _user = address;
        await ReplyAsync("235 2.7.0 Authentication successful");
        return true;
    }

    private async Task<bool> AuthFailedAsync()
    {
        // One answer for every cause (unknown user, wrong secret, locked, disabled): nothing to enumerate.
        if (++_authFailures >= _options.MaxAuthFailures)
        {
            await ReplyAsync("421 4.7.0 Too many authentication failures, closing");
            return false;
        }
        await ReplyAsync("535 5.7.8 Authentication credentials invalid");
        return true;
    }

    private async Task<string?> ChallengeAsync(string challenge, CancellationToken ct)
    {
        await ReplyAsync("334 " + challenge);
        await FlushRepliesAsync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.CommandTimeout);
        var (status, raw) = await _reader.ReadLineAsync(_options.MaxCommandLine, timeout.Token);
        if (status != LineStatus.Line) return null;
        return Encoding.ASCII.GetString(raw).Trim();
    }

    private async Task<bool> MailAsync(string args)
    {
        if (_helo is null) return await ErrorAsync("503 5.5.1 Send EHLO first");
        if (_inMail) return await ErrorAsync("503 5.5.1 Nested MAIL command");
        if (_service != SmtpService.Mx && _user is null) return await ErrorAsync("530 5.7.0 Authentication required");
        if (!SmtpPath.TryParse(args, "FROM:", out var path, out var parameters))
            return await ErrorAsync("501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");

        long? size = null;
        var utf8 = false;
        string? ret = null, envid = null;
        var requireTls = false;
        foreach (var (key, raw) in parameters)
        {
            // Keywords and the BODY/RET values are case-insensitive (RFC 5321 2.4); ENVID is kept as sent.
            var value = key is "BODY" or "RET" ? raw?.ToUpperInvariant() : raw;
            switch (key)
            {
                case "SIZE" when long.TryParse(value, out var n) && n >= 0: size = n; break;
                case "BODY" when value is "7BIT" or "8BITMIME" or "BINARYMIME": break;
                case "SMTPUTF8" when value is null: utf8 = true; break;
                case "RET" when value is "FULL" or "HDRS": ret = value; break;
                case "ENVID" when value is not null: envid = value; break;
                case "AUTH": break; // RFC 4954 5: accepted and ignored
                case "REQUIRETLS" when value is null:
                    if (!Secure) return await ErrorAsync("530 5.7.10 REQUIRETLS needs a TLS session");
                    requireTls = true;
                    break;
                default: return await ErrorAsync("555 5.5.4 Unsupported MAIL parameter " + key);
            }
        }
        if (size > _options.MaxMessageBytes) return await ReplyKeepAsync($"552 5.3.4 Message size exceeds the limit of {_options.MaxMessageBytes} bytes");
        if (path.Length > 0 && !SmtpPath.IsAscii(path) && !utf8) return await ReplyKeepAsync("553 5.6.7 Non-ASCII address requires SMTPUTF8");
        string? sender = null;
        if (path.Length > 0)
        {
            sender = SmtpPath.NormalizeMailbox(path);
            if (sender is null) return await ReplyKeepAsync("553 5.1.7 Bad sender address syntax");
        }
        if (_user is not null && !await OwnsAsync(sender))
            return await ReplyKeepAsync("553 5.7.1 Sender address not owned by the authenticated user");

        _inMail = true;
        _sender = sender;
        _declaredSize = size;
        _smtpUtf8 = utf8;
        _dsn = DsnRequest.Encode(ret, envid is null ? null : XText.Decode(envid));
        _requireTls = requireTls;
        _sizeLimit = _options.MaxMessageBytes;
        await ReplyAsync("250 2.1.0 Sender OK");
        return true;
    }

    private async Task<bool> RcptAsync(string args)
    {
        if (!_inMail) return await ErrorAsync("503 5.5.1 Need MAIL before RCPT");
        if (!SmtpPath.TryParse(args, "TO:", out var path, out var parameters) || path.Length == 0)
            return await ErrorAsync("501 5.5.4 Syntax: RCPT TO:<address> [parameters]");
        var notify = DsnNotify.Default;
        string? orcpt = null;
        foreach (var (key, value) in parameters)
        {
            if (key is "NOTIFY" or "ORCPT" && value is not null)
            {
                if (key == "NOTIFY") notify = DsnRequest.ParseNotify(value);
                else orcpt = XText.Decode(value);
                continue;
            }
            return await ErrorAsync("555 5.5.4 Unsupported RCPT parameter " + key);
        }
        if (_recipients.Count >= _options.MaxRecipients) return await ReplyKeepAsync("452 4.5.3 Too many recipients");
        if (!SmtpPath.IsAscii(path) && !_smtpUtf8) return await ReplyKeepAsync("553 5.6.7 Non-ASCII address requires SMTPUTF8");
        // RFC 5321 4.5.1: RCPT TO:<Postmaster> without a domain must be accepted.
        var address = path.Equals(RecipientPolicy.Postmaster, StringComparison.OrdinalIgnoreCase)
            ? MailAddress.Normalize(_options.Postmaster) ?? MailAddress.Normalize($"{RecipientPolicy.Postmaster}@{_options.HostName}")
            : MailAddress.Normalize(path);
        if (address is null) return await ReplyKeepAsync("501 5.1.3 Bad recipient address syntax");

        var r = await RecipientPolicy.ResolveAsync(_server.Grains, address, _declaredSize ?? 0);
        if (!r.Hosted)
        {
            if (_service == SmtpService.Mx || _user is null) return await ReplyKeepAsync("554 5.7.1 Relay access denied");
            // The sender's hourly budgets (account, then domain): a temporary refusal, so a
            // legitimate client retries later and a hijacked account cannot flood the world.
            var account = _server.Grains.GetGrain<GrainMail.Contracts.Outbound.ISendRateGrain>("account/" + _user);
            if (!await account.TryAcquire(1))
                return await ReplyKeepAsync("450 4.7.1 Sending rate limit of this account reached, try again later");
            var domainBudget = _server.Grains.GetGrain<GrainMail.Contracts.Outbound.ISendRateGrain>("domain/" + MailAddress.DomainOf(_user));
            if (!await domainBudget.TryAcquire(1))
                return await ReplyKeepAsync("450 4.7.1 Sending rate limit of this domain reached, try again later");
            // Authenticated submission: committed to the outbound stream of the destination domain.
            _recipients.Add((address, [], [address], DsnRequest.Encode(null, null, new DsnRecipient(notify, orcpt))));
            await ReplyAsync("250 2.1.5 Recipient OK");
            return true;
        }
        switch (r.Status)
        {
            case RecipientStatus.NoSuchUser: return await ReplyKeepAsync("550 5.1.1 No such user here");
            case RecipientStatus.Disabled: return await ReplyKeepAsync("550 5.2.1 Mailbox disabled");
            case RecipientStatus.MailboxFull: return await ReplyKeepAsync("452 4.2.2 Mailbox full");
            case RecipientStatus.TooLarge: return await ReplyKeepAsync($"552 5.3.4 Message size exceeds the limit of {r.MaxMessageBytes} bytes for this recipient");
        }
        _sizeLimit = Math.Min(_sizeLimit, r.MaxMessageBytes);
        var usable = r.Mailboxes;
        // An alias that forwards outside: its external targets leave through the outbound stream.
        _recipients.Add((address, usable, r.External, DsnRequest.Encode(null, null, new DsnRecipient(notify, orcpt))));
        await ReplyAsync("250 2.1.5 Recipient OK");
        return true;
    }

    private async Task<bool> DataAsync(string args, CancellationToken ct)
    {
        if (args.Length > 0) return await ErrorAsync("501 5.5.4 DATA takes no arguments");
        if (!_inMail) return await ErrorAsync("503 5.5.1 Need MAIL before DATA");
        if (_chunks is not null) return await ErrorAsync("503 5.5.1 DATA not allowed after BDAT");
        if (_recipients.Count == 0) return await ErrorAsync("554 5.5.1 No valid recipients");
        await ReplyAsync("354 End data with <CR><LF>.<CR><LF>");
        using var body = new MessageSpool(_options.SpoolDirectory);
        DataStatus status;
        try
        {
            status = await _reader.ReadDataAsync(body, _sizeLimit, Pace, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await ReplyAsync("421 4.4.2 Timeout waiting for data, closing");
            return false;
        }
        if (status == DataStatus.Closed) return false;
        if (status == DataStatus.TooSlow) return await TooSlowAsync();
        await FinishAsync(body, status == DataStatus.TooLarge);
        return true;
    }

    private async Task<bool> BdatAsync(string args, CancellationToken ct)
    {
        var parts = args.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is 0 or > 2 || !long.TryParse(parts[0], out var size) || size < 0
            || (parts.Length == 2 && !parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase)))
        {
            // The chunk cannot be skipped without its size: the session can no longer be trusted.
            await ReplyAsync("501 5.5.4 Syntax: BDAT size [LAST]; closing");
            return false;
        }
        var last = parts.Length == 2;
        var bad = !_inMail ? "503 5.5.1 Need MAIL before BDAT" : _recipients.Count == 0 ? "554 5.5.1 No valid recipients" : null;
        _chunks ??= new MessageSpool(_options.SpoolDirectory);
        var room = bad is null && !_chunksTooLarge ? _sizeLimit - _chunks.Length : -1;
        DataStatus status;
        try
        {
            status = await _reader.ReadChunkAsync(_chunks, size, Math.Max(room, -1), Pace, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await ReplyAsync("421 4.4.2 Timeout waiting for data, closing");
            return false;
        }
        if (status == DataStatus.Closed) return false;
        if (status == DataStatus.TooSlow) return await TooSlowAsync();
        if (bad is not null)
        {
            _chunks.Dispose();
            _chunks = null;
            return await ErrorAsync(bad);
        }
        if (status == DataStatus.TooLarge) _chunksTooLarge = true;
        if (!last)
        {
            if (_chunksTooLarge) await ReplyAsync("552 5.3.4 Message size exceeds the limit");
            else await ReplyAsync($"250 2.0.0 {size} octets received");
            return true;
        }
        await FinishAsync(_chunks, _chunksTooLarge);
        return true;
    }

    private DataPace Pace => new(_options.DataTimeout, _options.MinDataBytesPerSecond, _options.DataRateGrace);

    private async Task<bool> TooSlowAsync()
    {
        _server.Logger.LogInformation("SMTP client {Remote} sent data below the minimum rate; closing", _remote);
        await ReplyAsync("421 4.4.2 Data rate too low, closing");
        return false;
    }

    /// <summary>Checks, completes and commits the message; answers 250 only after the commit.</summary>
    private async Task FinishAsync(MessageSpool body, bool tooLarge)
    {
        try
        {
            if (tooLarge)
            {
                await ReplyAsync($"552 5.3.4 Message size exceeds the limit of {_sizeLimit} bytes");
                return;
            }
            // The header section must lie within the part kept in memory (1 MiB).
            var headers = ParseHeaders(body.Head);
            if (headers is null)
            {
                await ReplyAsync("554 5.6.0 Message has no valid header section");
                return;
            }
            var prefix = new StringBuilder();
            if (_service != SmtpService.Mx)
            {
                foreach (var from in FromAddresses(headers))
                {
                    if (!await OwnsAsync(from))
                    {
                        await ReplyAsync("553 5.7.1 From: address not owned by the authenticated user");
                        return;
                    }
                }
            }
            var id = Guid.CreateVersion7().ToString("N")[..16];
            prefix.Append("Return-Path: <").Append(_sender).Append(">\r\n");
            prefix.Append(ReceivedHeader(id));
            if (_service != SmtpService.Mx)
            {
                if (!headers.Contains(HeaderId.MessageId)) prefix.Append("Message-ID: <").Append(Guid.NewGuid().ToString("N")).Append('@').Append(_options.HostName).Append(">\r\n");
                if (!headers.Contains(HeaderId.Date)) prefix.Append("Date: ").Append(DateTimeOffset.UtcNow.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n");
            }
            var raw = new MessageContent(Encoding.UTF8.GetBytes(prefix.ToString()), body);
            if (raw.Length > _sizeLimit)
            {
                await ReplyAsync($"552 5.3.4 Message size exceeds the limit of {_sizeLimit} bytes");
                return;
            }
            var mailboxes = _recipients.SelectMany(r => r.Mailboxes).Distinct(StringComparer.Ordinal).ToList();
            try
            {
                var recipientDsn = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (_, boxes, outside, dsn) in _recipients)
                {
                    if (dsn is null) continue;
                    foreach (var b in boxes) recipientDsn.TryAdd(b, dsn);
                    foreach (var x in outside) recipientDsn.TryAdd(x, dsn);
                }
                var external = _recipients.SelectMany(r => r.External).Distinct(StringComparer.Ordinal).ToList();
                // Outbound copies are kept under the domain they leave for: the sender's on
                // submission, the forwarding alias's domain for mail that an alias sends on.
                var owner = external.Count == 0 ? null
                    : _user is not null ? MailAddress.DomainOf(_user)
                    : MailAddress.DomainOf(_recipients.First(r => r.External.Count > 0).Address);
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                using var span = GrainMailTracing.Source.StartActivity("smtp.message", System.Diagnostics.ActivityKind.Server);
                span?.SetTag("grainmail.listener", _service.ToString());
                var receipt = await _server.Intake.SubmitAsync(
                    new SubmissionEnvelope(_sender, mailboxes, _dsn, recipientDsn, external, owner, _requireTls), raw);
                var listener = new KeyValuePair<string, object?>("listener", _service.ToString());
                GrainMailMeters.SmtpCommit.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, listener);
                GrainMailMeters.SmtpAccepted.Add(1, listener);
                GrainMailMeters.SmtpBytes.Add(raw.Length, listener);
                await ReplyAsync($"250 2.0.0 Ok: queued as {receipt.MessageId:N}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Nothing was committed (the transaction rolled back or never completed): the sender retries.
                _server.Logger.LogWarning(e, "SMTP commit failed");
                await ReplyAsync("451 4.3.0 Temporary failure storing the message, try again later");
            }
        }
        finally
        {
            ResetTransaction();
        }
    }

    private string ReceivedHeader(string id)
    {
        var proto = (_extended ? "ESMTP" : "SMTP") + (Secure ? "S" : "") + (_user is not null ? "A" : "");
        if (_smtpUtf8) proto = "UTF8" + proto.Replace("ESMTP", "SMTP");
        var b = new StringBuilder();
        b.Append("Received: from ").Append(_helo).Append(" ([").Append(_remote).Append("])\r\n");
        b.Append("\tby ").Append(_options.HostName).Append(" (GrainMail) with ").Append(proto).Append(" id ").Append(id);
        if (_tls?.Stream is { } ssl) b.Append("\r\n\t(using ").Append(TlsName(ssl.SslProtocol)).Append(" with cipher ").Append(ssl.NegotiatedCipherSuite).Append(')');
        if (_user is not null) b.Append("\r\n\t(authenticated as ").Append(_user).Append(')');
        if (_recipients.Count == 1) b.Append("\r\n\tfor <").Append(_recipients[0].Address).Append('>');
        b.Append("; ").Append(DateTimeOffset.UtcNow.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n");
        return b.ToString();
    }

    private static string TlsName(System.Security.Authentication.SslProtocols p) => p switch
    {
        System.Security.Authentication.SslProtocols.Tls13 => "TLSv1.3",
        System.Security.Authentication.SslProtocols.Tls12 => "TLSv1.2",
        _ => p.ToString(),
    };

    private static HeaderList? ParseHeaders(ReadOnlyMemory<byte> head)
    {
        try
        {
            using var ms = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(head, out var segment)
                ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
                : new MemoryStream(head.ToArray(), writable: false);
            var headers = new MimeParser(ms, MimeFormat.Entity).ParseHeaders();
            return headers.Count == 0 ? null : headers;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static IEnumerable<string?> FromAddresses(HeaderList headers)
    {
        foreach (var h in headers)
        {
            if (h.Id != HeaderId.From && h.Id != HeaderId.Sender) continue;
            if (!InternetAddressList.TryParse(h.Value, out var list))
            {
                yield return null;
                continue;
            }
            foreach (var m in list.Mailboxes) yield return MailAddress.Normalize(m.Address);
        }
    }

    /// <summary>Whether the authenticated account may send as <paramref name="address"/>: itself, or an alias that reaches it.</summary>
    private async Task<bool> OwnsAsync(string? address)
    {
        address = MailAddress.Normalize(address);
        if (address is null || _user is null) return false;
        if (address == _user) return true;
        // Asked at MAIL and again for From: at DATA: one policy call per address per session.
        if (_owned.TryGetValue(address, out var known)) return known;
        var r = await RecipientPolicy.ResolveAsync(_server.Grains, address);
        return _owned[address] = r.Accepted && r.Mailboxes.Contains(_user);
    }

    private readonly Dictionary<string, bool> _owned = new(StringComparer.Ordinal);

    private void ResetTransaction()
    {
        _inMail = false;
        _sender = null;
        _declaredSize = null;
        _smtpUtf8 = false;
        _dsn = null;
        _requireTls = false;
        _recipients.Clear();
        _chunks?.Dispose();
        _chunks = null;
        _chunksTooLarge = false;
    }

    /// <summary>A protocol error: counted, and past the limit the session ends with 421.</summary>
    private async Task<bool> ErrorAsync(string reply)
    {
        if (++_errors > _options.MaxErrors)
        {
            await ReplyAsync("421 4.7.0 Too many errors, closing");
            return false;
        }
        await ReplyAsync(reply);
        return true;
    }

    /// <summary>A refusal that is not a protocol error (the session goes on).</summary>
    private async Task<bool> ReplyKeepAsync(string reply)
    {
        await ReplyAsync(reply);
        return true;
    }

    private async Task ReplyAsync(string line)
    {
        if (line.Length >= 3 && line[0] is '4' or '5')
        {
            // Rejections by their status code ("5.1.1", "5.7.1", ...): few values, what operators chart.
            var parts = line.Split(' ', 3);
            var reason = parts.Length > 1 && parts[1].Length >= 5 && parts[1][1] == '.' ? parts[1] : line[..3];
            GrainMailMeters.SmtpRejected.Add(1, new KeyValuePair<string, object?>("reason", reason),
                new KeyValuePair<string, object?>("listener", _service.ToString()));
        }
        _replies.Write(Encoding.UTF8.GetBytes(line + "\r\n"));
        if (!_reader.HasBufferedLine) await FlushRepliesAsync();
    }

    private async Task ReplyLinesAsync(int code, IReadOnlyList<string> lines)
    {
        var b = new StringBuilder();
        for (var i = 0; i < lines.Count; i++) b.Append(code).Append(i == lines.Count - 1 ? ' ' : '-').Append(lines[i]).Append("\r\n");
        _replies.Write(Encoding.UTF8.GetBytes(b.ToString()));
        if (!_reader.HasBufferedLine) await FlushRepliesAsync();
    }

    private async Task FlushRepliesAsync()
    {
        if (_replies.WrittenCount == 0) return;
        await _stream.WriteAsync(_replies.WrittenMemory);
        await _stream.FlushAsync();
        _replies.ResetWrittenCount();
    }

    public async ValueTask DisposeAsync()
    {
        _chunks?.Dispose();
        if (_tls is not null) await _tls.DisposeAsync();
    }
}
