using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Trust;
using GrainMail.Operations.Spool;
using GrainMail.Storage.Trust;
using GrainMail.Trust.Viruses;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Trust;

/// <summary>What the virus scan makes of a message: a refusal (the SMTP reply; nothing is stored), or the content to go on with.</summary>
public sealed record VirusOutcome(string? Refusal, MessageContent Content);

/// <summary>
/// The virus step of the intake, on the silo, for MX mail and authenticated submission alike (before the
/// spam checks: an infected message costs no DNS question). Off while GRAINMAIL_CLAMD is unset.
/// A signature found refuses the message (554 5.7.1 with its name). clamd unavailable refuses it for now
/// (451 4.7.1) unless every domain the message is for (and, on submission, the sender's) chose to deliver
/// unscanned: then an <c>X-Virus-Status: Unscanned</c> header marks it and the node log says why.
/// </summary>
public sealed class VirusScan : IAsyncDisposable
{
    public const string StatusHeader = "X-Virus-Status";

    /// <summary>The symbol for a message delivered without a scan; in the header and the log.</summary>
    public const string UnscannedSymbol = "VIRUS_UNSCANNED";

    private readonly ClamdClient? _client;
    private readonly ReceiveLogStore _log;
    private readonly ILogger<VirusScan> _logger;

    public VirusScan(ClamdOptions options, TimeProvider clock, ReceiveLogStore log, ILogger<VirusScan> logger)
    {
        _client = options.Enabled ? new ClamdClient(options, clock) : null;
        _log = log;
        _logger = logger;
    }

    public bool Enabled => _client is not null;

    public async Task<VirusOutcome> ScanAsync(IGrainFactory grains, SubmissionEnvelope envelope, MessageContent content, CancellationToken ct = default)
    {
        if (_client is null) return new VirusOutcome(null, content);
        var result = await _client.ScanAsync(content.ReadAsync, content.Length, ct);
        switch (result.Verdict)
        {
            case ScanVerdict.Clean when result.ScannedBytes < content.Length:
                // Past clamd's StreamMaxLength: what was scanned was clean; say how much that was.
                return new VirusOutcome(null, content.Prepend(Header($"Clean; first {result.ScannedBytes} of {content.Length} bytes scanned")));
            case ScanVerdict.Clean:
                return new VirusOutcome(null, content);
            case ScanVerdict.Infected:
                var reply = $"554 5.7.1 Message refused: virus found ({result.Signature})";
                _logger.LogWarning("Virus {Signature} in a message from <{Sender}> ({Client}) refused", result.Signature, envelope.Sender,
                    envelope.Inbound?.ClientIp ?? envelope.AuthenticatedUser);
                await LogAsync(envelope, "reject", $"VIRUS_FOUND({result.Signature})");
                return new VirusOutcome(reply, content);
            default:
                var domains = Domains(envelope);
                var open = domains.Count > 0;
                foreach (var d in domains) open &= (await grains.GetGrain<IVirusPolicyGrain>(d).Get()).DeliverUnscanned;
                if (!open)
                {
                    _logger.LogWarning("Message from <{Sender}> deferred: virus scan unavailable ({Problem})", envelope.Sender, result.Problem);
                    return new VirusOutcome("451 4.7.1 Virus scan unavailable, try again later", content);
                }
                _logger.LogWarning("Message from <{Sender}> for {Domains} delivered unscanned ({Symbol}): {Problem}", envelope.Sender,
                    string.Join(", ", domains), UnscannedSymbol, result.Problem);
                return new VirusOutcome(null, content.Prepend(Header($"Unscanned; {UnscannedSymbol} ({result.Problem})")));
        }
    }

    /// <summary>The domains whose policy decides about unscanned delivery: every recipient's and, on submission, the sender's.</summary>
    public static List<string> Domains(SubmissionEnvelope e)
    {
        var domains = e.Mailboxes.Concat(e.Lists ?? []).Select(MailAddress.DomainOf).ToList();
        if (e.External is { Count: > 0 } && e.ExternalOwner is { } owner) domains.Add(owner);
        if (e.AuthenticatedUser is { } user) domains.Add(MailAddress.DomainOf(user));
        return domains.Where(d => d.Length > 0).Distinct(StringComparer.Ordinal).ToList();
    }

    private static byte[] Header(string value) => Encoding.ASCII.GetBytes($"{StatusHeader}: {ClamdReply.Printable(value)}\r\n");

    /// <summary>MX refusals appear in each recipient's receive log as the spam checks' do.</summary>
    private async Task LogAsync(SubmissionEnvelope e, string action, string symbols)
    {
        if (e.Inbound is null || e.Mailboxes.Count == 0) return;
        var now = DateTimeOffset.UtcNow;
        try
        {
            await _log.AppendAsync(e.Mailboxes.Select(m => new ReceiveLogEntry(now, m, e.Sender, e.Inbound.ClientIp, null, action, 0, symbols, "")).ToList());
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            _logger.LogWarning(ex, "Could not write {Count} receive log line(s)", e.Mailboxes.Count);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
    }
}
