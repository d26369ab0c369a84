using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts;
using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Contracts.Outbound;
using GrainMail.Grains.Regions;
using GrainMail.Storage.Blobs;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Lists;
using GrainMail.Storage.Streams;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace GrainMail.Grains.Lists;

/// <summary>Node-wide settings of list expansion.</summary>
public sealed class ListOptions
{
    /// <summary>
    /// Members per expansion transaction: one blob reference update, one event insert, one progress update.
    /// Small, so that a batch never puts more than a few copies ahead of ordinary mail in the queues.
    /// </summary>
    public int ExpansionBatch { get; set; } = 20;

    /// <summary>
    /// Pacing (issue 15: a big list must not slow ordinary mail): the next batch is committed only
    /// once at most this many of the expansion's copies are still queued, so that at any time at
    /// most ExpansionBatch + PacedBacklog of them are queued or being delivered, whatever the
    /// list's size, and ordinary mail in the same queue partitions waits behind at most that many.
    /// A window rather than batch after batch: the queue never runs dry between two batches, so
    /// the members' deliveries go on at the node's pace. 0 turns pacing off (every batch at once).
    /// </summary>
    public int PacedBacklog { get; set; } = 20;

    /// <summary>The longest one batch waits for the window to drain (a member whose delivery is failing must not stall the list).</summary>
    public TimeSpan PacingMaxWait { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// One mailing list (key: its address). Consumes the list stream by implicit subscription: an
/// accepted post arrives as ONE event (a single queue row and blob reference, whatever the
/// list's size), and this grain expands it into member delivery events — local members' inbound
/// events and one outbound event per external destination domain — in batches, each committed
/// with the expansion's progress, so a redelivered event resumes where the last one stopped and
/// no member gets two copies. The copy the members get carries the list headers, so it is a new
/// blob: written once per expansion (per member domain), not once per member.
/// </summary>
[ImplicitStreamSubscription(ListStreams.Namespace)]
[HomeRegionPlacement]
public sealed class MailingListGrain(
    MailingListStore store,
    BlobStore blobs,
    MessageSubmitter submitter,
    EventCodec codec,
    PgStreamQueueMapper mapper,
    ListOptions options,
    GrainMail.Grains.Forwarding.ForwardedMail forwarding,
    ILogger<MailingListGrain> logger) : Grain, IMailingListGrain, IStreamSubscriptionObserver, IAsyncObserver<ListDeliveryEvent>
{
    private StoredList? _list;
    private bool _loaded;

    private string Address => this.GetPrimaryKeyString();

    private string Domain => MailAddress.DomainOf(Address);

    private string Name => MailAddress.LocalPartOf(Address);

    private string Owner => $"{Name}{ListStreams.OwnerSuffix}@{Domain}";

    private async Task<StoredList?> ListAsync()
    {
        if (!_loaded)
        {
            _list = await store.GetAsync(Domain, Name);
            _loaded = true;
        }
        return _list;
    }

    public Task Invalidate()
    {
        _loaded = false;
        return Task.CompletedTask;
    }

    // ---- who may post ----------------------------------------------------------------------

    public async Task<PostVerdict> MayPost(PostAttempt attempt)
    {
        if (await ListAsync() is not { } list) return PostVerdict.NoSuchList;
        var who = await IdentitiesAsync(attempt);
        var s = list.Settings;
        // A moderator's reply carries the token in its address, and must also come from a moderator.
        if (attempt.Command is not null) return who.Any(s.Moderators.Contains) ? PostVerdict.Allowed : PostVerdict.Refused;
        var allowed = s.PostPolicy switch
        {
            ListPostPolicy.Anyone or ListPostPolicy.Moderated => true,
            ListPostPolicy.Domain => who.Any(a => MailAddress.DomainOf(a) == Domain),
            ListPostPolicy.Senders => who.Any(s.Senders.Contains),
            ListPostPolicy.Members => await store.IsMemberAsync(Domain, Name, who),
            _ => false,
        };
        return allowed ? PostVerdict.Allowed : PostVerdict.Refused;
    }

    /// <summary>
    /// The addresses the sender is known to be. On submission: the authenticated account and its
    /// MAIL FROM (which the session has checked it owns). On MX nothing is authenticated at RCPT,
    /// so MAIL FROM counts only when it is outside every hosted domain: an internal address
    /// arriving on port 25 is what a forger would send (our own users submit on 587/465), and
    /// counting it would open every domain/members/senders list to anyone who types the address.
    /// External members and external named senders can post only by MX, so their MAIL FROM counts.
    /// </summary>
    private async Task<List<string>> IdentitiesAsync(PostAttempt attempt)
    {
        var who = new List<string>();
        var sender = MailAddress.Normalize(attempt.Sender);
        if (!attempt.Mx)
        {
            if (MailAddress.Normalize(attempt.User) is { } user) who.Add(user);
            if (sender is not null && !who.Contains(sender)) who.Add(sender);
            return who;
        }
        if (sender is not null && await GrainFactory.GetGrain<IDomainGrain>(MailAddress.DomainOf(sender)).GetInfo() is null) who.Add(sender);
        return who;
    }

    // ---- members ---------------------------------------------------------------------------

    public async Task<ListOpResult> AddMember(ListMember member)
    {
        if (await ListAsync() is null) return new ListOpResult(ListOpStatus.NoSuchList);
        ListMember normalized;
        switch (member.Kind)
        {
            case ListMemberKind.Department:
                if (!long.TryParse(member.Value, out var id) || await store.DepartmentAsync(Domain, id) is not { } dept)
                    return new ListOpResult(ListOpStatus.Invalid, $"no department {member.Value} in {Domain}");
                normalized = new ListMember(ListMemberKind.Department, id.ToString(System.Globalization.CultureInfo.InvariantCulture), dept);
                break;
            case ListMemberKind.Account:
                {
                    var address = MailAddress.Normalize(member.Value);
                    if (address is null) return new ListOpResult(ListOpStatus.Invalid, "invalid address");
                    var r = await RecipientPolicy.ResolveAsync(GrainFactory, address);
                    var isAccount = r.List is null && (r.Mailboxes.Contains(address) || r.Status is RecipientStatus.Disabled or RecipientStatus.MailboxFull);
                    if (!isAccount) return new ListOpResult(ListOpStatus.Invalid, $"{address} is not an account");
                    normalized = new ListMember(ListMemberKind.Account, address);
                    break;
                }
            default:
                {
                    var address = MailAddress.Normalize(member.Value);
                    if (address is null) return new ListOpResult(ListOpStatus.Invalid, "invalid address");
                    if (await GrainFactory.GetGrain<IDomainGrain>(MailAddress.DomainOf(address)).GetInfo() is not null)
                        return new ListOpResult(ListOpStatus.Invalid, $"{address} is in a hosted domain: add it as an account");
                    normalized = new ListMember(ListMemberKind.External, address);
                    break;
                }
        }
        return await store.AddMemberAsync(Domain, Name, normalized)
            ? new ListOpResult(ListOpStatus.Ok, normalized.Value)
            : new ListOpResult(ListOpStatus.AlreadyExists, normalized.Value);
    }

    public async Task<ListOpResult> RemoveMember(ListMember member)
    {
        if (await ListAsync() is null) return new ListOpResult(ListOpStatus.NoSuchList);
        var value = member.Kind == ListMemberKind.Department ? member.Value.Trim() : MailAddress.Normalize(member.Value) ?? member.Value;
        return await store.RemoveMemberAsync(Domain, Name, member with { Value = value })
            ? ListOpResult.Ok
            : new ListOpResult(ListOpStatus.NotFound);
    }

    public async Task<IReadOnlyList<ListMember>?> GetMembers() =>
        await ListAsync() is null ? null : await store.MembersAsync(Domain, Name);

    // ---- moderation ------------------------------------------------------------------------

    public async Task<IReadOnlyList<HeldPost>?> GetHeld()
    {
        if (await ListAsync() is null) return null;
        return (await store.HeldAsync(Domain, Name)).Select(h => new HeldPost(h.Id, h.Sender, h.Subject, h.Size, h.ReceivedAt, h.HeldAt)).ToList();
    }

    public async Task<ListOpResult> Approve(Guid id)
    {
        if (await ListAsync() is null) return new ListOpResult(ListOpStatus.NoSuchList);
        var held = await store.ReleaseAsync(Domain, Name, id, null, ApprovedEvent);
        if (held is null) return new ListOpResult(ListOpStatus.NotFound);
        logger.LogInformation("List {List}: held post {Id} from {Sender} approved", Address, held.Id, held.Sender);
        return ListOpResult.Ok;
    }

    public async Task<ListOpResult> Reject(Guid id)
    {
        if (await ListAsync() is null) return new ListOpResult(ListOpStatus.NoSuchList);
        var held = await store.ReleaseAsync(Domain, Name, id, null, null);
        if (held is null) return new ListOpResult(ListOpStatus.NotFound);
        logger.LogInformation("List {List}: held post {Id} from {Sender} rejected", Address, held.Id, held.Sender);
        return ListOpResult.Ok;
    }

    /// <summary>An approved post re-enters this list's stream: expanded like any post, without being held again.</summary>
    private OutgoingEvent ApprovedEvent(StoredHeld held)
    {
        var e = new ListDeliveryEvent(Guid.CreateVersion7(), 0, Address, held.Sender, held.BlobDomain, held.BlobHash, held.Size,
            held.ReceivedAt, 0, Approved: true);
        var streamId = StreamId.Create(ListStreams.Namespace, Address);
        return new OutgoingEvent(mapper.PartitionOf(streamId), ListStreams.Namespace, Address, codec.Encode(e));
    }

    // ---- the list stream -------------------------------------------------------------------

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        await handleFactory.Create<ListDeliveryEvent>().ResumeAsync(this);

    public Task OnErrorAsync(Exception ex)
    {
        logger.LogWarning(ex, "List stream error for {List}", Address);
        return Task.CompletedTask;
    }

    public async Task OnNextAsync(ListDeliveryEvent item, StreamSequenceToken? token = null)
    {
        using var activity = GrainMail.Operations.GrainMailTracing.Source.StartActivity(
            "grainmail.list.expand", System.Diagnostics.ActivityKind.Consumer, item.TraceParent);
        activity?.SetTag("grainmail.list", Address);
        _loaded = false;
        if (await ListAsync() is not { } list)
        {
            logger.LogWarning("List {List} no longer exists: event {Id} from {Sender} dropped", Address, item.DeliveryId, item.Sender);
            await store.DropAsync(item.QueueRowId, item.BlobDomain, item.BlobHash, item.Command is null ? Dropped(item, ListDrop.NoList) : null);
            return;
        }
        if (item.Command is { } command)
        {
            await CommandAsync(item, command);
            return;
        }
        if (await store.IsDoneAsync(item.DeliveryId))
        {
            // Handed out again after its expansion finished: only its queue row (and reference) remain to consume.
            logger.LogInformation("List {List}: event {Id} was expanded already; redelivery consumed", Address, item.DeliveryId);
            await store.FinishAsync(item.DeliveryId, item.QueueRowId, item.BlobDomain, item.BlobHash);
            return;
        }
        var raw = await blobs.ReadAsync(item.BlobDomain, item.BlobHash);
        if (raw is null)
        {
            logger.LogWarning("List {List}: the message of event {Id} is gone; dropped", Address, item.DeliveryId);
            await store.DropAsync(item.QueueRowId, item.BlobDomain, item.BlobHash, Dropped(item, ListDrop.Gone));
            return;
        }
        var head = ListCopy.HeaderFields(raw);
        // SMTP refuses such a message at DATA; this catches every other way in (an alias that
        // forwards to the list, an operator's redelivery). Dropped, never bounced: a bounce to a
        // looping message could join the loop.
        if (ListLoop.Carries(head, Address))
        {
            logger.LogWarning("List {List}: event {Id} from {Sender} already carries this list's List-Id or X-Loop: a mail loop, dropped",
                Address, item.DeliveryId, item.Sender);
            await store.DropAsync(item.QueueRowId, item.BlobDomain, item.BlobHash, Dropped(item, ListDrop.Loop));
            return;
        }
        var s = list.Settings;
        var byModerator = MailAddress.Normalize(item.User) is { } user && s.Moderators.Contains(user);
        if (s.PostPolicy == ListPostPolicy.Moderated && !item.Approved && !byModerator)
        {
            await HoldAsync(item, list, raw, head);
            return;
        }
        await ExpandAsync(item, list, raw);
    }

    /// <summary>The note of a dropped post (migration 0050), so that the poster's JMAP deliveryStatus says "no" rather than "taken".</summary>
    private ListDrop Dropped(ListDeliveryEvent item, string reason) => new(Domain, Name, item.User, item.ReceivedAt, reason);

    private async Task ExpandAsync(ListDeliveryEvent item, StoredList list, byte[] raw)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var progress = await store.ProgressAsync(item.DeliveryId, Address);
        if (!progress.Done)
        {
            // Sealed (ARC) as the list's domain: external members' receivers can see the verdicts we had
            // before the list headers changed the message.
            var copy = await forwarding.SealAsync(Domain, ListCopy.Build(raw, Address, Owner, list.Settings.DisplayName));
            var hash = BlobStore.Hash(copy);
            // The members' copy is a message of its own: found by the domain-wide search (issue 17, item 7).
            var summary = await GrainMail.Storage.Governance.MessageIndex.SummarizeAsync(copy);
            var policies = new Dictionary<string, GrainMail.Contracts.Governance.GovernancePolicy>(StringComparer.Ordinal);
            var last = progress.LastMember;
            // This expansion's local copies that may still be queued (the window PaceAsync keeps small).
            var outstanding = new List<string>();
            while (true)
            {
                var page = await store.RecipientsAsync(Domain, Name, last, options.ExpansionBatch);
                if (page.Count == 0) break;
                outstanding = await PaceAsync(outstanding);
                var members = page.Where(m => !m.External).Select(m => m.Address).ToList();
                var masters = await MastersAsync(members, policies);
                var (writes, events) = MemberEvents(item, page, copy, hash, masters);
                // The search index rows of the copy and the members' received counters (reports, 4.2.11)
                // commit with the batch: a batch done again after a failure counts nothing twice.
                async Task Alongside(Npgsql.NpgsqlConnection conn, Npgsql.NpgsqlTransaction tx)
                {
                    await GrainMail.Storage.Governance.MessageIndex.InsertAsync(conn, tx, blobs.Keys, members.Concat(masters).Select(MailAddress.DomainOf)
                        .Distinct(StringComparer.Ordinal).Select(d => (d, hash, item.ReceivedAt, item.Sender, summary)).ToList());
                    await GrainMail.Storage.Governance.ReportStore.AddAsync(conn, tx,
                        [new GrainMail.Storage.Governance.ReportEvent(item.Sender, null, members, 0, item.ReceivedAt)]);
                }
                if (!await store.CommitBatchAsync(item.DeliveryId, last, page[^1].Address, writes, events, Alongside))
                {
                    // Another attempt moved on (or finished) meanwhile: continue from where it is.
                    progress = await store.ProgressAsync(item.DeliveryId, Address);
                    if (progress.Done) break;
                    last = progress.LastMember;
                    continue;
                }
                last = page[^1].Address;
                outstanding.AddRange(page.Where(m => !m.External).Select(m => m.Address));
                if (page.Count < options.ExpansionBatch) break;
            }
        }
        await store.FinishAsync(item.DeliveryId, item.QueueRowId, item.BlobDomain, item.BlobHash);
        logger.LogInformation("List {List}: event {Id} expanded in {Ms:F0} ms", Address, item.DeliveryId,
            System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Waits (yielding the thread: the silo's other grains run meanwhile) until at most
    /// PacedBacklog of this expansion's local copies are still queued, and answers those that are
    /// (the rest are delivered: the window slides on). Polled every 10-100 ms: short, because with
    /// small batches a long poll would leave the queue idle between them. The list's own grain is
    /// the one waiting, so only posts to this same list queue behind it.
    /// </summary>
    private async Task<List<string>> PaceAsync(List<string> outstanding)
    {
        if (options.PacedBacklog <= 0 || outstanding.Count <= options.PacedBacklog) return outstanding;
        var deadline = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(options.PacingMaxWait.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        var delay = 10;
        while (true)
        {
            outstanding = await store.QueuedInboundAsync(outstanding);
            if (outstanding.Count <= options.PacedBacklog) return outstanding;
            if (System.Diagnostics.Stopwatch.GetTimestamp() > deadline)
            {
                logger.LogWarning("List {List}: {Count} copies are still queued after {Wait}; going on", Address, outstanding.Count, options.PacingMaxWait);
                return [];
            }
            await Task.Delay(delay);
            delay = Math.Min(delay * 2, 100);
        }
    }

    /// <summary>
    /// One batch's events and blob references: an inbound event per local member, one outbound
    /// event per external destination domain (the route sends them in one transaction). Member
    /// delivery ids derive from the list event's id and the member, so they are the same in every attempt.
    /// </summary>
    private (List<BlobWrite> Writes, List<OutgoingEvent> Events) MemberEvents(ListDeliveryEvent item, List<ListRecipient> page, byte[] copy, byte[] hash,
        IReadOnlyList<string> masters)
    {
        var events = new List<OutgoingEvent>(page.Count);
        var refs = new Dictionary<string, int>(StringComparer.Ordinal);
        // Monitoring copies (4.2.7) go with the members' copies. A master's copy has the delivery id a
        // member copy of the master would have: a master who is a member too, or who monitors several
        // members, gets one copy (the mailbox keeps one message per delivery id), in any batch.
        foreach (var address in page.Where(m => !m.External).Select(m => m.Address).Concat(masters))
        {
            var e = new DeliveryEvent(MemberId(item.DeliveryId, address), 0, address, Owner, MailAddress.DomainOf(address),
                hash, copy.Length, item.ReceivedAt, null, 0, System.Diagnostics.Activity.Current?.Id);
            var streamId = StreamId.Create(DeliveryStreams.Inbound, address);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Inbound, address, codec.Encode(e)));
            refs[e.BlobDomain] = refs.GetValueOrDefault(e.BlobDomain) + 1;
        }
        foreach (var group in page.Where(m => m.External).GroupBy(m => MailAddress.DomainOf(m.Address), StringComparer.Ordinal))
        {
            var recipients = group.Select(m => m.Address).ToList();
            var o = new OutboundEvent(MemberId(item.DeliveryId, "outbound:" + group.Key + ":" + recipients[0]), 0, group.Key, recipients, Owner,
                Domain, hash, copy.Length, item.ReceivedAt, null, 0);
            var streamId = StreamId.Create(DeliveryStreams.Outbound, group.Key);
            events.Add(new OutgoingEvent(mapper.PartitionOf(streamId), DeliveryStreams.Outbound, group.Key, codec.Encode(o)));
            refs[Domain] = refs.GetValueOrDefault(Domain) + 1;
        }
        return (refs.Select(r => new BlobWrite(r.Key, hash, copy, r.Value)).ToList(), events);
    }

    /// <summary>The masters of the monitored members of one batch (4.2.7), none twice and none that is a member of the batch.</summary>
    private async Task<List<string>> MastersAsync(List<string> members, Dictionary<string, GrainMail.Contracts.Governance.GovernancePolicy> policies)
    {
        var masters = new List<string>();
        var present = new HashSet<string>(members, StringComparer.Ordinal);
        foreach (var member in members)
        {
            var domain = MailAddress.DomainOf(member);
            if (!policies.TryGetValue(domain, out var policy))
                policies[domain] = policy = await GrainFactory.GetGrain<GrainMail.Contracts.Governance.IGovernanceGrain>(domain).Policy();
            if (policy.Masters.TryGetValue(member, out var master) && present.Add(master)) masters.Add(master);
        }
        return masters;
    }

    private static Guid MemberId(Guid listDelivery, string member)
    {
        Span<byte> bytes = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(listDelivery.ToString("N") + "|" + member), bytes);
        // RFC 9562 version 8 (custom): a stable name-based id.
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes[..16], bigEndian: true);
    }

    private async Task HoldAsync(ListDeliveryEvent item, StoredList list, byte[] raw, List<(string Name, string Value)> head)
    {
        var subject = head.FirstOrDefault(h => h.Name.Equals("Subject", StringComparison.OrdinalIgnoreCase)).Value;
        var token = ModerationNotice.NewToken();
        if (!await store.HoldAsync(Domain, Name, item, subject, token)) return;
        logger.LogInformation("List {List}: post {Id} from {Sender} held for a moderator", Address, item.DeliveryId, item.Sender);
        try
        {
            await SendNoticeAsync(list, item, subject, token, raw);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The post is held either way; moderators still find it through the API.
            logger.LogWarning(e, "List {List}: the moderation notice for {Id} could not be sent", Address, item.DeliveryId);
        }
    }

    private async Task SendNoticeAsync(StoredList list, ListDeliveryEvent item, string? subject, string token, byte[] raw)
    {
        var mailboxes = new List<string>();
        var external = new List<string>();
        foreach (var moderator in list.Settings.Moderators)
        {
            var r = await RecipientPolicy.ResolveAutomaticAsync(GrainFactory, moderator);
            mailboxes.AddRange(r.Mailboxes);
            external.AddRange(r.External);
        }
        if (mailboxes.Count + external.Count == 0) return;
        var notice = ModerationNotice.Build(Address, Owner, list.Settings.Moderators, item.DeliveryId, item.Sender, subject, token, raw);
        // The null reverse-path (RFC 3834 3.3): an automatic notice must not draw bounces or replies to itself.
        await submitter.SubmitAsync(new Submission(null, mailboxes, notice, External: external, ExternalOwner: external.Count > 0 ? Domain : null));
    }

    /// <summary>A moderator's reply to <c>name+approve-TOKEN</c> or <c>name+reject-TOKEN</c> (RCPT has checked it comes from a moderator).</summary>
    private async Task CommandAsync(ListDeliveryEvent item, string command)
    {
        var approve = command.StartsWith(ListStreams.ApproveTag, StringComparison.Ordinal);
        var token = command[(approve ? ListStreams.ApproveTag : ListStreams.RejectTag).Length..];
        var held = token.Length == 0 ? null : await store.ReleaseAsync(Domain, Name, null, token, approve ? ApprovedEvent : null);
        if (held is null)
            logger.LogInformation("List {List}: {Command} by mail from {Sender} names no held post (already decided?)", Address, approve ? "approval" : "rejection", item.Sender);
        else
            logger.LogInformation("List {List}: held post {Id} {Outcome} by mail from {Sender}", Address, held.Id, approve ? "approved" : "rejected", item.Sender);
        // The reply itself is consumed: it is an instruction, not a post.
        await store.DropAsync(item.QueueRowId, item.BlobDomain, item.BlobHash);
    }
}
