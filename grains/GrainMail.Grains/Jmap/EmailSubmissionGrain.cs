using System.Text.Json.Nodes;
using GrainMail.Contracts.Jmap;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Jmap;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Jmap;

/// <summary>
/// The single writer of one account's JMAP submissions: it hands out the account's counter (one call
/// at a time, so two gateways cannot take the same value) and keeps the submissions' status current.
/// <para>
/// Status (RFC 8621 7, issue 18): a submission stores the intake's id of its message. While a
/// recipient is queued the submission is "open", and the grain reads the records (sent record,
/// mailbox copies by delivery id, the inbound stream and its dead letters, the send log) on every
/// read and on a timer (1 s, doubling to 5 minutes); DSNs and MDNs that arrived in the mailbox are read
/// the same way. A change is stored in the row with the next counter value — the state moves, so
/// EmailSubmission/changes lists the submission as updated — and the push watchers are told.
/// Chosen over a state derived at read time from the latest attempt: /changes then needs no extra
/// query, the object a client got always matches the state it got with it, and a status older than
/// the counter can never come back.
/// </para>
/// </summary>
[StepDownOnStorageFailure]
public sealed class EmailSubmissionGrain(EmailSubmissionStore store, DeliveryFactsReader records, ReportArrivals arrivals, BlobStore blobs,
    ILogger<EmailSubmissionGrain> logger) : Grain, IEmailSubmissionGrain
{
    private static readonly TimeSpan FirstLook = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan SlowestLook = TimeSpan.FromMinutes(5);

    private string _account = "";
    private long _state;
    private bool _counterUnsure;
    private bool _open;
    private bool _any;
    private TimeSpan _next = FirstLook;
    private IGrainTimer? _timer;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _account = this.GetPrimaryKeyString();
        await StorageFailureFilter.Activating(async () =>
        {
            var log = await store.ReadAsync(_account, cancellationToken);
            _state = log.State;
            _any = log.Items.Any(i => !i.Destroyed);
            _open = _any && (await store.ReadTrackedAsync(_account, cancellationToken)).Any(t => t.Open);
        });
        if (_open) Schedule();
    }

    public async Task<SubmissionLog> Read()
    {
        await RefreshAsync();
        return await store.ReadAsync(_account);
    }

    public Task<long> State() => Task.FromResult(_state);

    public async Task<long> Poll()
    {
        await RefreshAsync();
        return _state;
    }

    public async Task<long> Add(string id, DateTimeOffset sendAt, string json)
    {
        var next = await NextAsync();
        await store.AddAsync(_account, id, next, sendAt, json);
        _any = true;
        _state = next;
        await Pushed();
        return _state;
    }

    public async Task<long> AddTracked(string id, DateTimeOffset sendAt, string json, Guid intakeId, string? messageId)
    {
        var next = await NextAsync();
        var o = (JsonObject)JsonNode.Parse(json)!;
        var (_, open) = SubmissionStatus.Refresh(o, intakeId, null);
        await store.AddAsync(_account, id, next, sendAt, o.ToJsonString(), intakeId, messageId, open);
        _any = true;
        if (open)
        {
            _open = true;
            _next = FirstLook;
            Schedule();
        }
        _state = next;
        await Pushed();
        return _state;
    }

    public async Task<long> Destroy(IReadOnlyList<string> ids)
    {
        if (ids.Count == 0) return _state;
        var next = await NextAsync();
        if (await store.DestroyAsync(_account, ids, next) > 0)
        {
            _state = next;
            await Pushed();
        }
        return _state;
    }

    public async Task Forget()
    {
        await store.DeleteAccountAsync(_account);
        _timer?.Dispose();
        DeactivateOnIdle();
    }

    public async Task<GrainMail.Contracts.Mailboxes.BlobRef?> ReportBlob(string blobId)
    {
        if (!_any) return null;
        foreach (var t in await store.ReadTrackedAsync(_account))
        {
            if (JsonNode.Parse(t.Json)?[SubmissionStatus.ReportBlobs]?[blobId] is not JsonValue v || (string?)v is not { } at) continue;
            var colon = at.LastIndexOf(':');
            if (colon <= 0) continue;
            // The size is not kept: the reader takes the stored one.
            return new GrainMail.Contracts.Mailboxes.BlobRef(at[..colon], Convert.FromHexString(at[(colon + 1)..]), 0);
        }
        return null;
    }

    /// <summary>RFC 8620 7.1: every gateway's push connections of the account hear that the EmailSubmission state moved.</summary>
    private Task Pushed() => GrainFactory.GetGrain<IJmapStateWatchGrain>(_account).Changed();

    private void Schedule()
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions(_next, Timeout.InfiniteTimeSpan) { Interleave = false, KeepAlive = true });
    }

    private async Task OnTimerAsync(CancellationToken ct)
    {
        try
        {
            await RefreshAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogWarning(e, "Refreshing the submissions of {Account} failed", _account);
            // No grain call to end the activation here (timers pass no call filter), and ending it would stop the
            // refreshing until the account's next call: the counter is read afresh before the next change instead.
            if (StorageFailureFilter.Translate(e) is not null) _counterUnsure = true;
        }
        _next = TimeSpan.FromTicks(Math.Min(SlowestLook.Ticks, _next.Ticks * 2));
        if (_open) Schedule();
        else
        {
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>The counter value for the next change.</summary>
    private async Task<long> NextAsync()
    {
        if (_counterUnsure)
        {
            // A change the timer wrote may have landed unseen (see StepDownOnStorageFailure): its number is not handed out again.
            _state = Math.Max(_state, (await store.ReadAsync(_account)).State);
            _counterUnsure = false;
        }
        return _state + 1;
    }

    /// <summary>Reads the records for open submissions and the reports that arrived; stores what changed at the next counter value.</summary>
    private async Task RefreshAsync()
    {
        if (!_any) return;
        var reports = await arrivals.ReadAsync(_account);
        if (!_open && reports.Count == 0) return;
        var tracked = await store.ReadTrackedAsync(_account);
        _any = tracked.Count > 0;
        var objects = tracked.ToDictionary(t => t.Id, t => (JsonObject)JsonNode.Parse(t.Json)!, StringComparer.Ordinal);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        if (reports.Count > 0) await ApplyReportsAsync(reports, tracked, objects, touched);
        var openOnes = tracked.Where(t => t.Open || touched.Contains(t.Id)).ToList();
        var facts = openOnes.Count == 0 ? null
            : await records.ReadAsync(openOnes.Where(t => t.IntakeId is not null).Select(t => t.IntakeId!.Value).ToList(),
                openOnes.SelectMany(t => SubmissionStatus.ListPosts(objects[t.Id], _account)).ToList());
        var changes = new List<(string Id, string Json, bool Open)>();
        var stillOpen = false;
        foreach (var t in tracked)
        {
            var o = objects[t.Id];
            var (changed, open) = t.Open || touched.Contains(t.Id) ? SubmissionStatus.Refresh(o, t.IntakeId, facts) : (false, false);
            stillOpen |= open;
            if (changed || touched.Contains(t.Id) || open != t.Open) changes.Add((t.Id, o.ToJsonString(), open));
        }
        if (changes.Count > 0)
        {
            var next = await NextAsync();
            await store.UpdateTrackedAsync(_account, changes, next);
            _state = next;
            await Pushed();
        }
        // Only once the change is stored: closed in memory after a failed write, the timer would stop, and Read and Poll not look.
        _open = stillOpen;
        await arrivals.DeleteAsync(_account, reports.Select(r => r.Id).ToList());
    }

    /// <summary>Each report is listed on the submissions whose message it names, oldest first (RFC 8621 7: in order of receipt).</summary>
    private async Task ApplyReportsAsync(List<ReportArrival> reports, List<EmailSubmissionStore.Tracked> tracked, Dictionary<string, JsonObject> objects,
        HashSet<string> touched)
    {
        foreach (var arrival in reports)
        {
            SubmissionReport? report;
            try
            {
                var raw = await blobs.ReadAsync(arrival.BlobDomain, arrival.BlobHash);
                report = raw is null ? null : SubmissionReport.Parse(raw);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // One unreadable report must not stop the others (its row goes with them).
                logger.LogWarning(e, "A report in the mailbox of {Account} could not be read", _account);
                continue;
            }
            if (report is null) continue;
            // The Email's blob id as the account's JMAP view names it ("B" + the Email id's digits).
            var blobId = "B" + Convert.ToHexStringLower(arrival.BlobHash.AsSpan(0, Math.Min(12, arrival.BlobHash.Length)));
            // A DSN's Original-Envelope-Id is the submission id (the ENVID every JMAP submission leaves with, RFC 3461
            // 4.4): it names exactly one submission, where the Message-ID is shared by every sending of the same Email.
            var byEnvelope = report.EnvelopeId is { } env ? tracked.Where(t => t.Id == env).ToList() : [];
            var matched = byEnvelope.Count > 0 ? byEnvelope
                : tracked.Where(t => t.MessageId is { } mid && report.MessageIds.Contains(mid)).ToList();
            foreach (var t in matched)
            {
                var o = objects[t.Id];
                var list = o[report.IsMdn ? "mdnBlobIds" : "dsnBlobIds"] as JsonArray ?? [];
                if (list.Any(b => (string?)b == blobId)) continue;
                list.Add(blobId);
                o[report.IsMdn ? "mdnBlobIds" : "dsnBlobIds"] = list;
                // Where the listed blob is stored, so that it downloads before the mailbox's JMAP view holds it.
                var stored = o[SubmissionStatus.ReportBlobs] as JsonObject ?? [];
                stored[blobId] = arrival.BlobDomain + ":" + Convert.ToHexStringLower(arrival.BlobHash);
                o[SubmissionStatus.ReportBlobs] = stored;
                Record(o, report);
                touched.Add(t.Id);
            }
        }
    }

    /// <summary>What the report says of each recipient, kept in the object's private properties for <see cref="SubmissionStatus"/>.</summary>
    private static void Record(JsonObject o, SubmissionReport report)
    {
        var status = o["deliveryStatus"] as JsonObject ?? [];
        var targets = o[SubmissionStatus.Targets] as JsonObject ?? [];
        string? RecipientOf(string? address)
        {
            if (address is null) return null;
            foreach (var (rcpt, t) in targets)
            {
                if (rcpt.Equals(address, StringComparison.OrdinalIgnoreCase)) return rcpt;
                var all = (t?["mailboxes"] as JsonArray ?? []).Concat(t?["external"] as JsonArray ?? []).Select(x => (string?)x);
                if (all.Any(x => string.Equals(x, address, StringComparison.OrdinalIgnoreCase))) return rcpt;
            }
            return status.Select(kv => kv.Key).FirstOrDefault(k => k.Equals(address, StringComparison.OrdinalIgnoreCase));
        }
        if (report.IsMdn)
        {
            if (!report.Displayed) return;
            // An MDN names the recipient's address; with one recipient there is no doubt whose it is.
            var who = RecipientOf(report.MdnRecipient) ?? (status.Count == 1 ? status.First().Key : null);
            if (who is null) return;
            var shown = o[SubmissionStatus.Displayed] as JsonArray ?? [];
            if (!shown.Any(x => (string?)x == who)) shown.Add(who);
            o[SubmissionStatus.Displayed] = shown;
            return;
        }
        var reports = o[SubmissionStatus.Reports] as JsonObject ?? [];
        foreach (var r in report.Recipients)
        {
            if ((RecipientOf(r.Address) ?? RecipientOf(r.OriginalAddress)) is not { } rcpt) continue;
            reports[rcpt] = new JsonObject { ["delivered"] = r.Delivered, ["smtpReply"] = r.SmtpReply };
        }
        o[SubmissionStatus.Reports] = reports;
    }
}
