using GrainMail.Contracts.Delivery;
using GrainMail.Dns;
using System.Net;
using System.Net.Sockets;
using DnsClient;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using MimeKit.Cryptography;

namespace GrainMail.Outbound;

public enum RecipientOutcome
{
    Delivered,
    Deferred,
    Failed,
}

/// <summary>What happened to one recipient, with the remote server's words when there were any.</summary>
/// <param name="NextHopReports">
/// The next hop speaks DSN and was handed this recipient's NOTIFY (RFC 3461 4.2): from here on it
/// reports, so GrainMail sends no "relayed" notice of its own.
/// </param>
public sealed record RecipientResult(string Recipient, RecipientOutcome Outcome, string Reply, string? RemoteHost, bool NextHopReports = false);

/// <summary>
/// Delivers one message to one destination domain: MX lookup (RFC 5321 5.1: preference order,
/// implicit MX from A/AAAA; null MX of RFC 7505 refuses at once), then an SMTP transaction for all
/// of the domain's recipients with per-recipient results, STARTTLS whenever the server offers it.
/// MailKit's SmtpClient speaks the client side (PIPELINING, SIZE, 8BITMIME, SMTPUTF8 as offered).
/// </summary>
public sealed class OutboundSender(OutboundOptions options, MailDns dns)
{
    /// <summary>Headers covered by DKIM signatures (those present are signed; From always is).</summary>
    private static readonly HeaderId[] SignedHeaders =
    [
        HeaderId.From, HeaderId.Sender, HeaderId.ReplyTo, HeaderId.To, HeaderId.Cc, HeaderId.Subject, HeaderId.Date,
        HeaderId.MessageId, HeaderId.InReplyTo, HeaderId.References, HeaderId.MimeVersion, HeaderId.ContentType,
        HeaderId.ContentTransferEncoding,
    ];

    public async Task<IReadOnlyList<RecipientResult>> SendAsync(string domain, string? sender, IReadOnlyList<string> recipients,
        byte[] raw, CancellationToken ct, IReadOnlyList<DkimSigner>? signers = null, OutboundConnections? pool = null,
        MtaStsPolicy? policy = null, CertificateTrust? trust = null, bool requireTls = false, DsnRequest? dsn = null)
    {
        if (await TryReuseAsync(pool, "direct", sender, recipients, raw, signers ?? [], ct, dsn) is { } reused) return reused;
        var enforce = policy is { Enforce: true } && trust is not null;
        var verified = enforce || (requireTls && trust is not null);
        var tlsFailure = false;
        IReadOnlyList<string>? hosts;
        string reason;
        try
        {
            (hosts, reason) = await dns.MailHostsAsync(domain, ct);
        }
        catch (Exception e) when (e is DnsResponseException or SocketException or TimeoutException)
        {
            return All(RecipientOutcome.Deferred, $"DNS lookup of {domain} failed: {e.Message}", null);
        }
        if (hosts is null) return All(RecipientOutcome.Failed, reason, null);
        if (enforce)
        {
            // RFC 8461 4.1: only MX hosts the policy names, and only over verified TLS.
            hosts = hosts.Where(policy!.Matches).ToList();
            if (hosts.Count == 0) return All(RecipientOutcome.Deferred, $"no MX host of {domain} matches its MTA-STS policy (enforce)", null);
        }

        var lastError = "no mail server of the domain could be reached";
        foreach (var host in hosts)
        {
            IPAddress[] addresses;
            try
            {
                addresses = await dns.AddressesAsync(host, ct);
            }
            catch (Exception e) when (e is DnsResponseException or SocketException or TimeoutException)
            {
                lastError = $"DNS lookup of {host} failed: {e.Message}";
                continue;
            }
            foreach (var address in addresses)
            {
                try
                {
                    return await TransactAsync(host, address, options.Port,
                        verified ? SecureSocketOptions.StartTls : SecureSocketOptions.StartTlsWhenAvailable, null,
                        sender, recipients, raw, signers ?? [], ct, pool, "direct", verified ? trust : null, requireTls, dsn);
                }
                catch (NotSupportedException) when (verified)
                {
                    // The server offered no STARTTLS: under an enforced policy (or REQUIRETLS) nothing is sent in clear.
                    tlsFailure = true;
                    lastError = requireTls
                        ? $"{host} [{address}]: no STARTTLS, and the message was sent with REQUIRETLS"
                        : $"{host} [{address}]: no STARTTLS, but {domain}'s MTA-STS policy requires TLS";
                }
                catch (SslHandshakeException e) when (verified)
                {
                    tlsFailure = true;
                    lastError = $"{host} [{address}]: TLS certificate not valid for the host: {e.Message}";
                }
                catch (Exception e) when (e is SocketException or IOException or TimeoutException or OperationCanceledException
                    or SmtpProtocolException or SslHandshakeException or ServiceNotConnectedException)
                {
                    if (ct.IsCancellationRequested) throw;
                    // Could not talk to this one: the next address or MX host is tried (RFC 5321 5.1).
                    lastError = $"{host} [{address}]: {e.Message}";
                }
            }
        }
        // REQUIRETLS (RFC 8689 4.2.1): when no hop could give verified TLS, the message is returned.
        if (requireTls && tlsFailure) return All(RecipientOutcome.Failed, "550 5.7.10 REQUIRETLS: " + lastError, null);
        return All(RecipientOutcome.Deferred, lastError, null);

        List<RecipientResult> All(RecipientOutcome outcome, string text, string? remote) =>
            recipients.Select(r => new RecipientResult(r, outcome, text, remote)).ToList();
    }

    /// <summary>Hands the message to a relay link's smarthost, which delivers it onwards.</summary>
    public async Task<IReadOnlyList<RecipientResult>> SendViaRelayAsync(EgressLink link, string? sender, IReadOnlyList<string> recipients,
        byte[] raw, CancellationToken ct, IReadOnlyList<DkimSigner>? signers = null, OutboundConnections? pool = null,
        CertificateTrust? trust = null, bool requireTls = false, DsnRequest? dsn = null)
    {
        if (await TryReuseAsync(pool, link.Name, sender, recipients, raw, signers ?? [], ct, dsn) is { } reused) return reused;
        var host = link.Host ?? throw new InvalidOperationException($"relay link {link.Name} has no host");
        var lastError = $"relay {link.Name} ({host}) could not be reached";
        IPAddress[] addresses;
        try
        {
            addresses = await dns.AddressesAsync(host, ct);
        }
        catch (Exception e) when (e is DnsResponseException or SocketException or TimeoutException)
        {
            addresses = [];
            lastError = $"DNS lookup of relay {host} failed: {e.Message}";
        }
        foreach (var address in addresses)
        {
            try
            {
                var tls = link.ImplicitTls ? SecureSocketOptions.SslOnConnect
                    : requireTls ? SecureSocketOptions.StartTls : SecureSocketOptions.StartTlsWhenAvailable;
                var credentials = link.User is null ? null : new NetworkCredential(link.User, link.Password);
                return await TransactAsync(host, address, link.Port, tls, credentials, sender, recipients, raw, signers ?? [], ct, pool, link.Name,
                    requireTls ? trust : null, requireTls, dsn);
            }
            catch (Exception e) when (e is SocketException or IOException or TimeoutException or OperationCanceledException
                or SmtpProtocolException or SslHandshakeException or ServiceNotConnectedException or AuthenticationException
                or NotSupportedException)
            {
                if (ct.IsCancellationRequested) throw;
                lastError = $"relay {link.Name} {host} [{address}]: {e.Message}";
            }
        }
        return recipients.Select(r => new RecipientResult(r, RecipientOutcome.Deferred, lastError, null)).ToList();
    }

    private async Task<IReadOnlyList<RecipientResult>> TransactAsync(string host, IPAddress address, int port, SecureSocketOptions tls,
        NetworkCredential? credentials, string? sender, IReadOnlyList<string> recipients, byte[] raw, IReadOnlyList<DkimSigner> signers,
        CancellationToken ct, OutboundConnections? pool = null, string? poolKey = null, CertificateTrust? verify = null, bool requireTls = false,
        DsnRequest? dsn = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.SessionTimeout);
        var client = new RecordingSmtpClient
        {
            LocalDomain = options.HostName,
            Timeout = (int)options.ReplyTimeout.TotalMilliseconds,
            DataTimeout = options.DataTimeout,
            // Opportunistic TLS (RFC 3207) accepts any certificate; under an enforced MTA-STS
            // policy the certificate must chain to a trusted root and name the MX host.
            ServerCertificateValidationCallback = verify is null ? (_, _, _, _) => true : (_, cert, _, _) => verify.IsValidFor(cert, host),
        };
        var kept = false;
        try
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                // A host that does not answer the TCP handshake is given up on sooner than one that talks slowly.
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                connect.CancelAfter(options.ConnectTimeout);
                await socket.ConnectAsync(new IPEndPoint(address, port), connect.Token);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            await client.ConnectAsync(socket, host, port, tls, timeout.Token);
            if (credentials is not null) await client.AuthenticateAsync(credentials, timeout.Token);
            var remote = $"{host} [{address}]";
            if (requireTls)
            {
                // RFC 8689 4.2.1: the next hop must promise to keep the requirement.
                if (!client.Capabilities.HasFlag(SmtpCapabilities.RequireTLS))
                    return recipients.Select(r => new RecipientResult(r, RecipientOutcome.Failed,
                        $"550 5.7.30 REQUIRETLS support required: {host} does not offer REQUIRETLS", remote)).ToList();
                client.RequireTLS = true;
            }
            var results = await SendOnAsync(client, remote, sender, recipients, raw, signers, timeout.Token, dsn);
            if (pool is not null && poolKey is not null && client.IsConnected)
            {
                // Kept open for the route's next message to the same place (connection reuse).
                pool.Keep(poolKey, client, remote);
                kept = true;
            }
            return results;
        }
        finally
        {
            if (!kept) await QuitAsync(client);
        }
    }

    /// <summary>One transaction on an open connection.</summary>
    private static async Task<IReadOnlyList<RecipientResult>> SendOnAsync(RecordingSmtpClient client, string remote, string? sender,
        IReadOnlyList<string> recipients, byte[] raw, IReadOnlyList<DkimSigner> signers, CancellationToken ct, DsnRequest? dsn)
    {
        // A fresh copy per transaction: signing adds headers, and a retry on the next MX must not sign twice.
        MimeMessage message;
        using (var stream = new MemoryStream(raw, writable: false)) message = await MimeMessage.LoadAsync(stream, ct);
        // Return-Path belongs to final delivery (RFC 5321 4.4): the copy kept here carries ours
        // for local mailboxes; a relayed copy must not.
        message.Headers.Remove(HeaderId.ReturnPath);
        if (signers.Count > 0)
        {
            // MailKit would re-encode 8-bit parts for a server without 8BITMIME after we signed,
            // breaking the signature: encode first, then sign what is sent.
            if (!client.Capabilities.HasFlag(SmtpCapabilities.EightBitMime)) message.Prepare(EncodingConstraint.SevenBit);
            foreach (var signer in signers) signer.Sign(message, SignedHeaders);
        }
        client.Refused.Clear();
        client.Dsn = dsn ?? DsnRequest.None;
        // RFC 3461 4.3: RET goes on as the sender wrote it (MailKit sends it only to a server that offers DSN).
        client.DeliveryStatusNotificationType = client.Dsn.ReturnFull ? DeliveryStatusNotificationType.Full
            : client.Dsn.ReturnHeaders ? DeliveryStatusNotificationType.HeadersOnly
            : DeliveryStatusNotificationType.Unspecified;
        var handsOver = client.Capabilities.HasFlag(SmtpCapabilities.Dsn);
        var results = new List<RecipientResult>();
        try
        {
            var from = sender is null ? new MailboxAddress("", "") : MailboxAddress.Parse(sender);
            var rcpts = recipients.Select(r => MailboxAddress.Parse(r)).ToList();
            var reply = await client.SendAsync(FormatOptions.Default, message, from, rcpts, ct);
            foreach (var r in recipients)
            {
                results.Add(client.Refused.TryGetValue(r, out var refused)
                    ? new RecipientResult(r, refused.Code >= 500 ? RecipientOutcome.Failed : RecipientOutcome.Deferred, refused.Text, remote)
                    : new RecipientResult(r, RecipientOutcome.Delivered, "250 " + reply, remote,
                        handsOver && client.Dsn.For(r).Notify != DsnNotify.None));
            }
        }
        catch (SmtpCommandException e)
        {
            // MAIL or DATA refused (or every RCPT): the reply decides for everyone not refused one by one.
            var outcome = (int)e.StatusCode >= 500 ? RecipientOutcome.Failed : RecipientOutcome.Deferred;
            foreach (var r in recipients)
            {
                results.Add(client.Refused.TryGetValue(r, out var refused)
                    ? new RecipientResult(r, refused.Code >= 500 ? RecipientOutcome.Failed : RecipientOutcome.Deferred, refused.Text, remote)
                    : new RecipientResult(r, outcome, $"{(int)e.StatusCode} {e.Message}", remote));
            }
        }
        return results;
    }

    /// <summary>Sends on a connection the pool kept from an earlier message; null when there is none or it broke.</summary>
    private static async Task<IReadOnlyList<RecipientResult>?> TryReuseAsync(OutboundConnections? pool, string key, string? sender,
        IReadOnlyList<string> recipients, byte[] raw, IReadOnlyList<DkimSigner> signers, CancellationToken ct, DsnRequest? dsn)
    {
        if (pool?.Take(key) is not { } kept) return null;
        try
        {
            var results = await SendOnAsync(kept.Client, kept.Remote, sender, recipients, raw, signers, ct, dsn);
            if (kept.Client.IsConnected) pool.Keep(key, kept.Client, kept.Remote);
            else await QuitAsync(kept.Client);
            return results;
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException or ServiceNotConnectedException or TimeoutException)
        {
            // The server closed the kept connection: a new one is made as usual.
            await QuitAsync(kept.Client);
            return null;
        }
    }

    internal static async Task QuitAsync(SmtpClient client)
    {
        try
        {
            if (client.IsConnected) await client.DisconnectAsync(true, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or SmtpProtocolException or SocketException or OperationCanceledException)
        {
            // The transaction is decided; a failing QUIT changes nothing.
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>
    /// Records refused recipients instead of failing the whole message on the first one, and hands
    /// the message's RFC 3461 parameters to a next hop that speaks DSN.
    /// </summary>
    internal sealed class RecordingSmtpClient : SmtpClient
    {
        public Dictionary<string, (int Code, string Text)> Refused { get; } = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>The DSN parameters of the message being sent now.</summary>
        public DsnRequest Dsn { get; set; } = DsnRequest.None;

        // MailKit asks these only when the server offers DSN, and sends ORCPT only with a NOTIFY:
        // a recipient without NOTIFY leaves the next hop to its defaults, as it came to us.
        // MailKit writes ORCPT itself as rfc822;<the RCPT address> (not overridable), so an ORCPT
        // the sender gave for an alias we expanded is not passed on: the next hop reports the
        // address it was given.
        protected override string? GetEnvelopeId(MimeMessage message) => Dsn.EnvelopeId;

        protected override DeliveryStatusNotification? GetDeliveryStatusNotifications(MimeMessage message, MailboxAddress mailbox)
        {
            var notify = Dsn.For(mailbox.Address).Notify;
            if (notify == DsnNotify.None) return null;
            if (notify.HasFlag(DsnNotify.Never)) return DeliveryStatusNotification.Never;
            DeliveryStatusNotification flags = 0;
            if (notify.HasFlag(DsnNotify.Success)) flags |= DeliveryStatusNotification.Success;
            if (notify.HasFlag(DsnNotify.Failure)) flags |= DeliveryStatusNotification.Failure;
            if (notify.HasFlag(DsnNotify.Delay)) flags |= DeliveryStatusNotification.Delay;
            return flags;
        }

        /// <summary>The wait for the reply to the final dot, longer than the others (RFC 5321 4.5.3.2.6).</summary>
        public TimeSpan DataTimeout { get; init; } = TimeSpan.FromMinutes(10);

        private int? _replyTimeout;

        // MailKit has one timeout for every read; once a recipient is in, what remains is DATA,
        // the text and the final reply, so the longer wait applies from there to the end of
        // this message, and the reply wait comes back for the next one on a kept connection.
        protected override void OnRecipientAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
        {
            _replyTimeout ??= Timeout;
            Timeout = Math.Max(Timeout, (int)DataTimeout.TotalMilliseconds);
            base.OnRecipientAccepted(message, mailbox, response);
        }

        protected override void OnMessageSent(MessageSentEventArgs e)
        {
            if (_replyTimeout is int t) Timeout = t;
            _replyTimeout = null;
            base.OnMessageSent(e);
        }

        protected override void OnRecipientNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
        {
            Refused[mailbox.Address] = ((int)response.StatusCode, $"{(int)response.StatusCode} {response.Response}");
        }
    }
}

/// <summary>
/// SMTP connections a route keeps open during one delivery pass, one per link, so that the
/// messages queued for a destination go over one connection (RFC 5321 allows many transactions
/// per session). Closed with QUIT at the end of the pass.
/// </summary>
public sealed class OutboundConnections : IAsyncDisposable
{
    private readonly Dictionary<string, (OutboundSender.RecordingSmtpClient Client, string Remote)> _open = [];

    internal void Keep(string key, OutboundSender.RecordingSmtpClient client, string remote) => _open[key] = (client, remote);

    internal (OutboundSender.RecordingSmtpClient Client, string Remote)? Take(string key) =>
        _open.Remove(key, out var kept) ? kept : null;

    public async ValueTask DisposeAsync()
    {
        foreach (var (client, _) in _open.Values) await OutboundSender.QuitAsync(client);
        _open.Clear();
    }
}
