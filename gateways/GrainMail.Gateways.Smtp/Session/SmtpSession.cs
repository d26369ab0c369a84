using System.Buffers;
using System.Net;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Gateways.Common;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Common.Sasl;
using GrainMail.Gateways.Common.Tls;
using GrainMail.Gateways.Smtp.Protocol;
using GrainMail.Operations;
using GrainMail.Operations.Spool;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Trust;
using GrainMail.Gateways.Common.Intake;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Gateways.Smtp.Session;

/// <summary>
/// One SMTP conversation (RFC 5321 with ESMTP extensions) as a state machine: read a line, parse
/// it (<see cref="SmtpCommandParser"/>), execute it against the session's state (greeting, EHLO,
/// STARTTLS, AUTH, then transactions of MAIL, RCPT and DATA or BDAT), reply. Recipients are
/// judged by <see cref="RcptPolicy"/>; a message gets 250 only after the durable commit of
/// <see cref="MessageIntake"/>.
/// </summary>
internal sealed class SmtpSession : IAsyncDisposable
{
    private readonly SmtpServer _server;
    private readonly SmtpService _service;
    private readonly IPAddress _remote;
    private readonly SmtpOptions _options;
    private readonly RcptPolicy _rcptPolicy;

    private Stream _stream;
    private SmtpReader _reader;
    private TlsLayer? _tls;

    private string? _helo;
    private bool _extended;
    private string? _user;
    private int _errors;
    private int _authFailures;
    private int _unknownRecipients;
    private bool _quit;

    // Replies wait here while the client has already pipelined its next command, and go out in
    // one write when it has not (RFC 2920: fewer packets and wake-ups for both sides), or when
    // they pass MaxPendingReplyBytes: then the write waits for the client to read.
    private readonly ArrayBufferWriter<byte> _replies = new(1024);

    private SmtpTransaction? _transaction;

    public SmtpSession(SmtpServer server, ConnectionContext connection, SmtpService service, IPAddress remote)
    {
        _server = server;
        _service = service;
        _remote = remote;
        _options = server.Options;
        _rcptPolicy = new RcptPolicy(server.Grains, server.Options, server.Logger);
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
            var parsed = SmtpCommandParser.Parse(raw);
            if (parsed.Error is { } error)
            {
                if (error.CloseSession)
                {
                    await ReplyAsync(error.Reply.ToString());
                    return;
                }
                if (!await ErrorAsync(error.Reply.ToString())) return;
                continue;
            }
            try
            {
                if (!await ExecuteAsync(parsed.Command!, closed)) return;
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
    private async Task<bool> ExecuteAsync(SmtpCommand command, CancellationToken ct)
    {
        switch (command)
        {
            case HeloCommand helo: return await HeloAsync(helo);
            case StartTlsCommand: return await StartTlsCommandAsync(ct);
            case AuthCommand auth: return await AuthAsync(auth, ct);
            case MailCommand mail: return await MailAsync(mail);
            case RcptCommand rcpt: return await RcptAsync(rcpt, ct);
            case DataCommand: return await DataAsync(ct);
            case BdatCommand bdat: return await BdatAsync(bdat, ct);
            case RsetCommand:
                await ResetTransactionAsync();
                await ReplyAsync("250 2.0.0 Reset");
                return true;
            case NoopCommand:
                await ReplyAsync("250 2.0.0 OK");
                return true;
            case VrfyCommand:
                // RFC 5321 3.5.3: 252 neither confirms nor denies; VRFY is no way around the tarpit.
                await ReplyAsync("252 2.5.0 Cannot verify the user, but will accept the message and attempt delivery");
                return true;
            case ExpnCommand:
                // RFC 5321 3.5.2, 7.3: list expansion is not disclosed.
                await ReplyAsync("502 5.5.1 EXPN not supported");
                return true;
            case HelpCommand:
                await ReplyAsync("214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT");
                return true;
            case QuitCommand:
                await ReplyAsync("221 2.0.0 Bye");
                _quit = true;
                return false;
            default:
                return await ErrorAsync("500 5.5.1 Unknown command");
        }
    }

    private async Task<bool> HeloAsync(HeloCommand helo)
    {
        await ResetTransactionAsync();
        _helo = helo.Domain;
        _extended = helo.Extended;
        if (!helo.Extended)
        {
            await ReplyAsync($"250 {_options.HostName}");
            return true;
        }
        // What is listed here is exactly what the parser accepts (RFC 5321 4.1.1.11).
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

    private async Task<bool> StartTlsCommandAsync(CancellationToken ct)
    {
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
        await ResetTransactionAsync();
        _user = null;
        return true;
    }

    private async Task StartTlsAsync(CancellationToken ct)
    {
        _tls = await TlsLayer.StartAsync(_stream, _server.Tls, ct);
        _stream = _tls.Stream;
        _reader = new SmtpReader(_tls.Input);
    }

    private async Task<bool> AuthAsync(AuthCommand auth, CancellationToken ct)
    {
        if (_service == SmtpService.Mx) return await ErrorAsync("502 5.5.1 AUTH is not offered on this port");
        if (!AuthAllowed) return await ErrorAsync("530 5.7.0 Must issue a STARTTLS command first. " + GrainMail.Gateways.Common.Security.ForcedTls.Smtp);
        if (_helo is null) return await ErrorAsync("503 5.5.1 Send EHLO first");
        if (_user is not null) return await ErrorAsync("503 5.5.1 Already authenticated");
        if (_transaction is not null) return await ErrorAsync("503 5.5.1 AUTH not allowed during a mail transaction");
        var (credentials, error) = await SaslExchange.RunAsync(auth.Mechanism, auth.InitialResponse, c => ChallengeAsync(c, ct));
        if (credentials is null)
        {
            return error == SaslError.Cancelled
                ? await ErrorAsync("501 5.7.0 Authentication cancelled")
                : await ErrorAsync("501 5.5.2 Malformed authentication response");
        }
        var address = await LoginNames.CanonicalAsync(_server.Grains, credentials.AuthenticationId);
        if (address is null) return await AuthFailedAsync();
        string? actFor = null;
        if (credentials.AuthorizationId.Length > 0)
        {
            actFor = await LoginNames.CanonicalAsync(_server.Grains, credentials.AuthorizationId);
            if (actFor is null) return await AuthFailedAsync();
        }
        if (!Secure && await GrainMail.Gateways.Common.Security.ForcedTls.RefusesPlaintextAsync(_server.Grains, address))
            return await ErrorAsync("530 5.7.0 " + GrainMail.Gateways.Common.Security.ForcedTls.Smtp);
        // SMTP has no client identification: the EHLO name is the closest thing for the login record.
        var attempt = new LoginAttempt(credentials.Password, LoginChannel.Smtp, _remote.ToString(), ClientName: _helo, AuthorizationIdentity: actFor);
        var result = await _server.Grains.GetGrain<IAccountGrain>(address).Authenticate(attempt);
        if (result.Outcome != AuthOutcome.Success)
        {
            _server.Logger.LogInformation("SMTP AUTH failed for {User} from {Remote}: {Outcome}", address, _remote, result.Outcome);
            return await AuthFailedAsync(result.Outcome is AuthOutcome.AppPasswordRequired or AuthOutcome.AddressNotAllowed ? result.Reason : null);
        }
        _user = result.MailboxOf(address);
        await ReplyAsync("235 2.7.0 Authentication successful");
        return true;
    }

    private async Task<bool> AuthFailedAsync(string? reason = null)
    {
        // One answer for every cause (unknown user, wrong secret, locked, disabled): nothing to enumerate.
        if (++_authFailures >= _options.MaxAuthFailures)
        {
            await ReplyAsync("421 4.7.0 Too many authentication failures, closing");
            return false;
        }
        await ReplyAsync($"535 5.7.8 {reason ?? "Authentication credentials invalid"}");
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

    private async Task<bool> MailAsync(MailCommand mail)
    {
        if (_helo is null) return await ErrorAsync("503 5.5.1 Send EHLO first");
        if (_transaction is not null) return await ErrorAsync("503 5.5.1 Nested MAIL command");
        if (_service != SmtpService.Mx && _user is null) return await ErrorAsync("530 5.7.0 Authentication required");
        var p = mail.Parameters;
        if (p.RequireTls && !Secure) return await ErrorAsync("530 5.7.10 REQUIRETLS needs a TLS session");
        if (p.Size > _options.MaxMessageBytes) return await ReplyKeepAsync($"552 5.3.4 Message size exceeds the limit of {_options.MaxMessageBytes} bytes");
        string? sender = null;
        if (mail.From.Mailbox is { } from)
        {
            sender = NormalizeSender(from);
            if (sender is null) return await ReplyKeepAsync("553 5.1.7 Bad sender address syntax");
        }
        if (_user is not null && !await OwnsAsync(sender))
            return await ReplyKeepAsync("553 5.7.1 Sender address not owned by the authenticated user");
        _transaction = new SmtpTransaction(sender, p, _options.MaxMessageBytes);
        await ReplyAsync("250 2.1.0 Sender OK");
        return true;
    }

    /// <summary>A sender as seen on the internet: local part kept (case matters to others), domain lower-cased.</summary>
    private static string? NormalizeSender(SmtpMailbox from)
    {
        if (from.DomainIsAddressLiteral) return from.Address;
        var domain = MailAddress.NormalizeDomain(from.Domain);
        return domain is null ? null : from.LocalPart + "@" + domain;
    }

    private async Task<bool> RcptAsync(RcptCommand rcpt, CancellationToken ct)
    {
        var transaction = _transaction;
        if (transaction is null) return await ErrorAsync("503 5.5.1 Need MAIL before RCPT");
        if (transaction.Recipients.Count >= _options.MaxRecipients) return await ReplyKeepAsync("452 4.5.3 Too many recipients");
        if (rcpt.To.Mailbox is { IsAscii: false } && !transaction.Parameters.SmtpUtf8)
            return await ReplyKeepAsync("553 5.6.7 Non-ASCII address requires SMTPUTF8");

        var verdict = await _rcptPolicy.CheckAsync(new RcptCheck(rcpt.To.Address, _user, _service, transaction.Parameters.Size, transaction.Sender));
        if (verdict.UnknownRecipient)
        {
            var harvest = _server.Harvest.NoteUnknown(_remote, ++_unknownRecipients);
            if (harvest.Close)
            {
                _server.Logger.LogInformation("SMTP client {Remote} tried too many unknown recipients; closing", _remote);
                await ReplyAsync("421 4.7.0 Too many unknown recipients, closing");
                return false;
            }
            if (harvest.Delay > TimeSpan.Zero)
            {
                // Replies already held back go out first: the tarpit delays this answer, not earlier ones.
                await FlushRepliesAsync();
                await Task.Delay(harvest.Delay, _server.Time, ct);
            }
        }
        if (!verdict.Accepted) return await ReplyKeepAsync(verdict.Reply.ToString());
        if (verdict.MaxMessageBytes is long max) transaction.LimitSize(max);
        transaction.Add(new AcceptedRecipient(verdict.Address, verdict.Mailboxes, verdict.External, rcpt.Parameters, verdict.List, verdict.ProtocolReject));
        if (verdict.Charged) transaction.Charged++;
        await ReplyAsync(verdict.Reply.ToString());
        return true;
    }

    private async Task<bool> DataAsync(CancellationToken ct)
    {
        var transaction = _transaction;
        if (transaction is null) return await ErrorAsync("503 5.5.1 Need MAIL before DATA");
        if (transaction.Chunks is not null) return await ErrorAsync("503 5.5.1 DATA not allowed after BDAT");
        if (transaction.Recipients.Count == 0) return await ErrorAsync("554 5.5.1 No valid recipients");
        await ReplyAsync("354 End data with <CR><LF>.<CR><LF>");
        using var body = new MessageSpool(_options.SpoolDirectory);
        var text = new MessageTextWriter(body, _options.MessageText);
        DataStatus status;
        try
        {
            status = await _reader.ReadDataAsync(text, transaction.SizeLimit, Pace, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await ReplyAsync("421 4.4.2 Timeout waiting for data, closing");
            return false;
        }
        if (status == DataStatus.Closed) return false;
        if (status == DataStatus.TooSlow) return await TooSlowAsync();
        await FinishAsync(transaction, body, status == DataStatus.TooLarge, text.Complete());
        return true;
    }

    private async Task<bool> BdatAsync(BdatCommand bdat, CancellationToken ct)
    {
        var transaction = _transaction;
        var bad = transaction is null ? "503 5.5.1 Need MAIL before BDAT" : transaction.Recipients.Count == 0 ? "554 5.5.1 No valid recipients" : null;
        // The chunk is read in any case (RFC 3030 2: the octets follow the command), and dropped when refused.
        IBufferWriter<byte> sink = transaction is not null && bad is null
            ? transaction.StartChunks(_options.SpoolDirectory, _options.MessageText)
            : new DiscardingWriter();
        var room = transaction is not null && bad is null && !transaction.ChunksTooLarge ? transaction.SizeLimit - transaction.Chunks!.Length : -1;
        DataStatus status;
        try
        {
            status = await _reader.ReadChunkAsync(sink, bdat.Size, Math.Max(room, -1), Pace, ct);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await ReplyAsync("421 4.4.2 Timeout waiting for data, closing");
            return false;
        }
        if (status == DataStatus.Closed) return false;
        if (status == DataStatus.TooSlow) return await TooSlowAsync();
        if (bad is not null) return await ErrorAsync(bad);
        if (status == DataStatus.TooLarge) transaction!.ChunksTooLarge = true;
        if (!bdat.Last)
        {
            if (transaction!.ChunksTooLarge) await ReplyAsync("552 5.3.4 Message size exceeds the limit");
            else await ReplyAsync($"250 2.0.0 {bdat.Size} octets received");
            return true;
        }
        await FinishAsync(transaction!, transaction!.Chunks!, transaction.ChunksTooLarge, transaction.ChunkText!.Complete());
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
    private async Task FinishAsync(SmtpTransaction transaction, MessageSpool body, bool tooLarge, MessageTextProblem problem)
    {
        try
        {
            if (tooLarge)
            {
                await ReplyAsync($"552 5.3.4 Message size exceeds the limit of {transaction.SizeLimit} bytes");
                return;
            }
            if (problem == MessageTextProblem.Nul)
            {
                // RFC 3463 5.6.0: the content itself is unacceptable; sending it again will not help.
                await ReplyAsync("554 5.6.0 " + MessageText.Describe(problem, _options.MessageText));
                return;
            }
            if (problem != MessageTextProblem.None)
            {
                // RFC 3463 X.3.4 "message too big for system": a size limit of this system, not a media error.
                await ReplyAsync("552 5.3.4 " + MessageText.Describe(problem, _options.MessageText));
                return;
            }
            // The header section lies within the part kept in memory: MessageText bounds it by 1 MiB.
            var headers = ParseHeaders(body.Head);
            if (headers is null)
            {
                await ReplyAsync("554 5.6.0 Message has no valid header section");
                return;
            }
            // More Received fields than MaxHops (RFC 5321 6.3), or the marks of a list this message is for: a mail loop,
            // refused here (RFC 3463 5.4.6) so the sender's server reports it. JMAP EmailSubmission/set asks the same function.
            if (MailLoop.Find(headers.Select(h => (h.Field, h.Value)).ToList(), transaction.Lists(), _options.MaxHops) is { } loop)
            {
                await ReplyAsync("554 5.4.6 " + loop.Description);
                return;
            }
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
            var now = DateTimeOffset.UtcNow;
            var prefix = new StringBuilder();
            prefix.Append(TraceHeaders.ReturnPath(transaction.Sender));
            prefix.Append(TraceHeaders.Received(new TraceInfo(_helo, _remote, _options.HostName, _extended, _tls?.Stream, _user,
                transaction.Parameters.SmtpUtf8, transaction.Recipients.Count == 1 ? transaction.Recipients[0].Address : null,
                Guid.CreateVersion7().ToString("N")[..16], now)));
            if (_service != SmtpService.Mx)
            {
                // RFC 6409 8.2, 8.3: a submission server may add a missing Message-ID and Date.
                if (!headers.Contains(HeaderId.MessageId)) prefix.Append("Message-ID: <").Append(Guid.NewGuid().ToString("N")).Append('@').Append(_options.HostName).Append(">\r\n");
                if (!headers.Contains(HeaderId.Date)) prefix.Append("Date: ").Append(TraceHeaders.Rfc5322Date(now)).Append("\r\n");
            }
            var raw = new MessageContent(Encoding.UTF8.GetBytes(prefix.ToString()), body);
            if (raw.Length > transaction.SizeLimit)
            {
                await ReplyAsync($"552 5.3.4 Message size exceeds the limit of {transaction.SizeLimit} bytes");
                return;
            }
            await CommitAsync(transaction, raw);
        }
        finally
        {
            // A message refused above (or by the intake) gives back what its recipients took from the send budgets.
            await ResetTransactionAsync();
        }
    }

    private async Task CommitAsync(SmtpTransaction transaction, MessageContent raw)
    {
        try
        {
            var external = transaction.ExternalAddresses();
            // Outbound copies are kept under the domain they leave for: the sender's on
            // submission, the forwarding alias's domain for mail that an alias sends on.
            var owner = external.Count == 0 ? null
                : _user is not null ? MailAddress.DomainOf(_user)
                : MailAddress.DomainOf(transaction.Recipients.First(r => r.External.Count > 0).Address);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            using var span = GrainMailTracing.Source.StartActivity("smtp.message", System.Diagnostics.ActivityKind.Server);
            span?.SetTag("grainmail.listener", _service.ToString());
            // Mail from the internet is checked on the silo before it is stored (SPF, DKIM, DMARC, ARC,
            // blocklists, score); authenticated submission is not filtered for spam.
            var inbound = _service == SmtpService.Mx ? new InboundEvidence(_remote.ToString(), _helo) : null;
            // From here the message may be stored and sent: a commit that fails without an answer keeps its budget
            // (it may have gone); only the intake's own refusal below gives it back.
            transaction.Sent = true;
            var receipt = await _server.Intake.SubmitAsync(new SubmissionEnvelope(transaction.Sender, transaction.Mailboxes(),
                transaction.EnvelopeDsn(), transaction.RecipientDsn(), external, owner, transaction.Parameters.RequireTls, Inbound: inbound,
                Lists: transaction.Lists(), AuthenticatedUser: _user, ProtocolReject: transaction.ProtocolRejectMailboxes()), raw);
            if (receipt.Refusal is { } refusal)
            {
                transaction.Sent = false;
                await ReplyAsync(refusal);
                return;
            }
            var listener = new KeyValuePair<string, object?>("listener", _service.ToString());
            GrainMailMeters.SmtpCommit.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, listener);
            GrainMailMeters.SmtpAccepted.Add(1, listener);
            GrainMailMeters.SmtpBytes.Add(raw.Length, listener);
            await ReplyAsync($"250 2.0.0 Ok: queued as {receipt.MessageId:N}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Not stored: the call failed and the key, asked about through the silos, had not committed (or its
            // outcome could not be learnt within MessageIntake.OutcomeWait). The sender retries.
            _server.Logger.LogWarning(e, "SMTP commit failed");
            await ReplyAsync("451 4.3.0 Temporary failure storing the message, try again later");
        }
    }

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

    /// <summary>
    /// Ends the transaction. One that sent nothing (refused at DATA, by the intake, RSET, a new EHLO, the connection gone)
    /// gives back to the sender's hourly budgets what its recipients took at RCPT: only what is sent counts.
    /// </summary>
    private async Task ResetTransactionAsync()
    {
        var transaction = _transaction;
        _transaction = null;
        if (transaction is null) return;
        transaction.Dispose();
        if (!transaction.Sent && transaction.Charged > 0 && _user is { } user) await _rcptPolicy.GiveBackAsync(user, transaction.Charged);
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
        await FlushIfDueAsync();
    }

    private async Task ReplyLinesAsync(int code, IReadOnlyList<string> lines)
    {
        var b = new StringBuilder();
        for (var i = 0; i < lines.Count; i++) b.Append(code).Append(i == lines.Count - 1 ? ' ' : '-').Append(lines[i]).Append("\r\n");
        _replies.Write(Encoding.UTF8.GetBytes(b.ToString()));
        await FlushIfDueAsync();
    }

    // Held back only while a further command is already buffered and the pile stays small:
    // a client that sends without reading then meets TCP backpressure, not an ever larger buffer.
    private Task FlushIfDueAsync() =>
        !_reader.HasBufferedLine || _replies.WrittenCount >= _options.MaxPendingReplyBytes ? FlushRepliesAsync() : Task.CompletedTask;

    private async Task FlushRepliesAsync()
    {
        if (_replies.WrittenCount == 0) return;
        await _stream.WriteAsync(_replies.WrittenMemory);
        await _stream.FlushAsync();
        _replies.ResetWrittenCount();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // A transaction the connection left unfinished gives its send budget back.
            await ResetTransactionAsync();
        }
        finally
        {
            if (_tls is not null) await _tls.DisposeAsync();
        }
    }

    /// <summary>Where a refused BDAT chunk goes: read to stay in step, then forgotten.</summary>
    private sealed class DiscardingWriter : IBufferWriter<byte>
    {
        private readonly byte[] _scratch = new byte[8192];

        public void Advance(int count)
        {
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => sizeHint > _scratch.Length ? new byte[sizeHint] : _scratch;

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}
