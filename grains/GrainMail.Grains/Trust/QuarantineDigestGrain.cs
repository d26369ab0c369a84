using System.Globalization;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Operations.Spool;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Trust;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Trust;

[GenerateSerializer]
public sealed class QuarantineDigestState
{
    /// <summary>Null: the default (daily).</summary>
    [Id(0)] public TimeSpan? Interval { get; set; }

    [Id(1)] public DateTimeOffset? LastRun { get; set; }
}

/// <summary>
/// The quarantine digest of one domain (<see cref="IQuarantineDigestGrain"/>). A reminder (the domain's
/// interval, daily by default) wakes it; each mailbox with messages held since its last digest gets one
/// mail listing them (time, sender, subject, score, id for release through the user API), submitted
/// through the internal submission path into its INBOX with the null reverse path (no bounce of a notice).
/// </summary>
public sealed class QuarantineDigestGrain(
    [PersistentState("quarantinedigest", GrainStorage.Name)] IPersistentState<QuarantineDigestState> state,
    QuarantineStore quarantine, ContentStore store, BlobStore blobs, MessageSubmitter submitter, TimeProvider clock,
    ILogger<QuarantineDigestGrain> logger) : Grain, IQuarantineDigestGrain, IRemindable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromDays(1);

    /// <summary>Orleans reminders fire at most once a minute.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromMinutes(1);

    private const string ReminderName = "quarantine-digest";

    private TimeSpan Interval => state.State.Interval ?? DefaultInterval;

    public async Task Ensure()
    {
        if (await this.GetReminder(ReminderName) is null) await this.RegisterOrUpdateReminder(ReminderName, Interval, Interval);
    }

    public Task<DigestSettings> Get() => Task.FromResult(new DigestSettings(Interval, state.State.LastRun));

    public async Task<DigestSettings> SetInterval(TimeSpan interval)
    {
        if (interval < MinInterval) throw new ArgumentOutOfRangeException(nameof(interval), "at least one minute");
        state.State.Interval = interval;
        await state.WriteStateAsync();
        await this.RegisterOrUpdateReminder(ReminderName, interval, interval);
        return await Get();
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status) => await SendNow();

    public async Task<int> SendNow()
    {
        var domain = this.GetPrimaryKeyString();
        var now = clock.GetUtcNow();
        var sent = 0;
        foreach (var mailbox in await store.MailboxesWithHeldMailAsync(domain))
        {
            var since = await store.LastDigestAsync(mailbox);
            var held = (await quarantine.ListAsync(mailbox, null)).Where(q => since is null || q.ReceivedAt > since).ToList();
            if (held.Count == 0) continue;
            var lines = new List<DigestLine>();
            foreach (var q in held) lines.Add(new DigestLine(q.Id, q.ReceivedAt, q.Sender, await SubjectOf(q.BlobDomain, q.BlobHash), q.Score));
            var raw = Compose(domain, mailbox, lines, now);
            await submitter.SubmitAsync(new Submission(null, [mailbox], new MessageContent(raw)));
            await store.MarkDigestAsync(mailbox, held.Max(q => q.ReceivedAt));
            sent++;
        }
        state.State.LastRun = now;
        await state.WriteStateAsync();
        if (sent > 0) logger.LogInformation("Quarantine digest of {Domain}: {Count} mail(s)", domain, sent);
        return sent;
    }

    private async Task<string> SubjectOf(string blobDomain, byte[] hash)
    {
        var raw = await blobs.ReadAsync(blobDomain, hash);
        if (raw is null) return "";
        using var stream = new MemoryStream(raw, writable: false);
        var headers = await HeaderList.LoadAsync(stream);
        return headers[HeaderId.Subject]?.Trim() ?? "";
    }

    /// <summary>One held message in a digest.</summary>
    public sealed record DigestLine(Guid Id, DateTimeOffset ReceivedAt, string? Sender, string Subject, double Score);

    /// <summary>The digest mail: a plain-text list, newest last, with each message's id for release.</summary>
    public static byte[] Compose(string domain, string mailbox, IReadOnlyList<DigestLine> lines, DateTimeOffset now)
    {
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Quarantine", "postmaster@" + domain));
        message.To.Add(MailboxAddress.Parse(mailbox));
        message.Subject = $"Quarantine digest: {lines.Count} message(s) held";
        message.Date = now;
        message.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId(domain);
        message.Headers.Add("Auto-Submitted", "auto-generated"); // RFC 3834: no auto-replies to this
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{lines.Count} message(s) addressed to {mailbox} were held in quarantine and are not in your mailbox.\n");
        text.Append("Release one to your INBOX with POST /api/v1/me/quarantine/{id}/release, or delete it with DELETE /api/v1/me/quarantine/{id}.\n\n");
        foreach (var l in lines.OrderBy(l => l.ReceivedAt))
        {
            text.Append(CultureInfo.InvariantCulture, $"{l.ReceivedAt:yyyy-MM-dd HH:mm} UTC  from {l.Sender ?? "<>"}  score {l.Score:0.0}\n");
            text.Append(CultureInfo.InvariantCulture, $"    Subject: {l.Subject}\n    id: {l.Id}\n");
        }
        message.Body = new TextPart("plain") { Text = text.ToString() };
        using var output = new MemoryStream();
        message.WriteTo(FormatOptions.Default.Clone() is var o ? SetCrLf(o) : FormatOptions.Default, output);
        return output.ToArray();
    }

    private static FormatOptions SetCrLf(FormatOptions o)
    {
        o.NewLineFormat = NewLineFormat.Dos;
        return o;
    }
}
