using GrainMail.Contracts.Delivery;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Contracts.Sieve;
using GrainMail.Grains.Sieve;
using GrainMail.Sieve;
using GrainMail.Sieve.Syntax;
using GrainMail.Sieve.Validation;
using GrainMail.Storage.Mailboxes;
using GrainMail.Storage.Sieve;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace GrainMail.Grains.Mailboxes;

/// <summary>
/// Delivery through the account's active Sieve script (RFC 5228). The script decides the folders
/// and flags; redirect, vacation and reject go through <see cref="SieveDelivery"/> before the
/// mailbox commit, and are recorded so that a redelivered event repeats none of them. The copies,
/// any folder created by <c>fileinto :create</c> and the queue row's removal are one transaction.
/// A script that fails at run time files the message into INBOX and the user is told once.
/// </summary>
public sealed partial class MailboxGrain
{
    /// <summary>The account's scripts as last read; null until needed or after a change.</summary>
    private SieveScripts? _sieve;

    private sealed class SieveScripts(IReadOnlyList<StoredSieveScript> scripts)
    {
        private readonly Dictionary<string, CompiledSieve?> _compiled = [];

        public string? ActiveName { get; } = scripts.FirstOrDefault(s => s.Active)?.Name;

        /// <summary>The JMAP vacation script, when the account has one and it is not the active script itself.</summary>
        public string? VacationName { get; } = scripts.Any(s => s.Name == JmapVacationScript.Name && !s.Active) ? JmapVacationScript.Name : null;

        public bool Any => ActiveName is not null || VacationName is not null;

        public CompiledSieve? Compile(string name)
        {
            if (_compiled.TryGetValue(name, out var c)) return c;
            var text = scripts.FirstOrDefault(s => s.Name == name)?.Content;
            c = text is null ? null : SieveValidator.Compile(text, SieveGrain.Limits).Script;
            _compiled[name] = c;
            return c;
        }
    }

    public Task SieveChanged()
    {
        _sieve = null;
        return Task.CompletedTask;
    }

    private async Task<SieveScripts> SieveScriptsAsync() =>
        _sieve ??= new SieveScripts(await ServiceProvider.GetRequiredService<SieveStore>().ListAsync(_address));

    private async Task<bool> HasActiveSieveAsync() => (await SieveScriptsAsync()).Any;

    /// <summary>Delivers <paramref name="item"/> through the active script; false when there is none (deliver as usual).</summary>
    private async Task<bool> DeliverThroughSieveAsync(DeliveryEvent item)
    {
        var scripts = await SieveScriptsAsync();
        if (!scripts.Any) return false;
        var raw = await blobs.ReadAsync(item.BlobDomain, item.BlobHash);
        if (raw is null) return false;
        MimeMessage message;
        try
        {
            using var s = new MemoryStream(raw, writable: false);
            message = MimeMessage.Load(s);
        }
        catch (FormatException)
        {
            return false;
        }
        var sieve = ServiceProvider.GetRequiredService<SieveDelivery>();
        var context = new SieveContext(message, item.Size, new SieveEnvelope(item.Sender, EnvelopeRecipient(item, message)), clock.GetUtcNow())
        {
            MailboxExists = name => Find(name) is not null,
            Include = scripts.Compile,
            Limits = SieveGrain.Limits,
        };
        IReadOnlyList<SieveAction> actions = [new KeepAction([], true, 0)];
        if (scripts.ActiveName is { } activeName)
        {
            var compiled = scripts.Compile(activeName);
            var result = compiled is null
                ? new SieveResult([], new SieveError(1, "the active script no longer compiles"), 0)
                : SieveInterpreter.Run(compiled, context, activeName);
            actions = result.Actions;
            if (result.Error is { } error)
            {
                // RFC 5228 2.10.6: a run-time error means the implicit keep.
                await sieve.NotifyFailureAsync(GrainFactory, _address, activeName, error);
                actions = [new KeepAction([], true, 0)];
            }
        }
        actions = WithJmapVacation(scripts, context, actions);

        var keepToo = false;
        // A message this account redirected already (Delivered-To names it) is not redirected again: a loop.
        var looped = message.Headers.Any(h => h.Field.Equals("Delivered-To", StringComparison.OrdinalIgnoreCase) && string.Equals(h.Value.Trim(), _address, StringComparison.OrdinalIgnoreCase));
        foreach (var action in actions)
        {
            switch (action)
            {
                case RedirectAction r:
                    var refused = looped ? "the message was redirected by this account before (a loop)"
                        : await sieve.RedirectAsync(GrainFactory, _address, item, raw, r.Address);
                    if (refused is not null)
                    {
                        // Kept instead of lost: a redirect that may not happen leaves the message here.
                        logger.LogWarning("Sieve redirect of delivery {Id} from {Address} to {Target} not done: {Why}; kept in INBOX",
                            item.DeliveryId, _address, r.Address, refused);
                        keepToo = true;
                    }
                    break;
                case VacationAction v:
                    await sieve.VacationAsync(GrainFactory, _address, item, message, v);
                    break;
                case RejectAction j:
                    await sieve.RejectAsync(GrainFactory, _address, item, raw, j);
                    break;
            }
        }

        // Where copies go: folder name → flags. Keep is INBOX (\Junk for spam); fileinto a folder that
        // does not exist goes to INBOX unless :create (RFC 5490 3.2) asks for it.
        var keepFolder = (item.Junk ? _folders.Values.FirstOrDefault(f => f.Use == SpecialUse.Junk) : null)
            ?? _folders.Values.First(f => f.Use == SpecialUse.Inbox);
        var targets = new List<(string Name, bool Create, List<string> Flags)>();
        void Target(string name, bool create, IEnumerable<string> flags)
        {
            var existing = targets.FindIndex(t => t.Name == name);
            if (existing < 0) targets.Add((name, create, flags.ToList()));
            else targets[existing].Flags.AddRange(flags);
        }
        foreach (var action in actions)
        {
            switch (action)
            {
                case KeepAction k:
                    Target(keepFolder.Name, false, k.Flags);
                    break;
                case FileIntoAction f:
                    var name = FolderNames.Normalize(f.Folder);
                    if (name is not null && (Find(name) is not null || f.Create)) Target(Find(name)?.Name ?? name, Find(name) is null, f.Flags);
                    else
                    {
                        logger.LogInformation("Sieve fileinto \"{Folder}\" of {Address}: no such folder, kept in {Keep}", f.Folder, _address, keepFolder.Name);
                        Target(keepFolder.Name, false, f.Flags);
                    }
                    break;
            }
        }
        if (keepToo && targets.All(t => t.Name != keepFolder.Name)) Target(keepFolder.Name, false, []);
        return await PlaceAsync(item, targets) is var placed && placed;
    }

    /// <summary>
    /// The JMAP VacationResponse's script runs as if it came before the active script: its vacation
    /// action joins the active script's actions. Only that action is taken (the script is generated and
    /// does nothing else), and it is dropped when the user's own script answers with a vacation of its
    /// own (one reply, the user's) or rejects the message (RFC 5230 4.7: no vacation with reject).
    /// A script that fails is skipped: the user's filtering must not suffer from it.
    /// </summary>
    private static IReadOnlyList<SieveAction> WithJmapVacation(SieveScripts scripts, SieveContext context, IReadOnlyList<SieveAction> actions)
    {
        if (scripts.VacationName is not { } name || scripts.Compile(name) is not { } compiled) return actions;
        if (actions.Any(a => a is VacationAction or RejectAction)) return actions;
        var result = SieveInterpreter.Run(compiled, context, name);
        if (result.Failed || result.Actions.OfType<VacationAction>().FirstOrDefault() is not { } vacation) return actions;
        return [vacation, .. actions];
    }

    /// <summary>Stores one copy per target (folders created first) and consumes the queue row, in one transaction.</summary>
    private async Task<bool> PlaceAsync(DeliveryEvent item, List<(string Name, bool Create, List<string> Flags)> targets)
    {
        var change = NewChange();
        change.ConsumeQueueRow = item.QueueRowId;
        change.ConsumedReference = (item.BlobDomain, item.BlobHash);
        var now = clock.GetUtcNow();
        var created = new List<Folder>();
        var clones = new Dictionary<int, Folder>();
        var nextId = _folders.Count == 0 ? 1 : _folders.Keys.Max() + 1;
        var rows = new List<MessageRow>();
        foreach (var (name, create, flagNames) in targets)
        {
            var folder = Find(name) ?? created.FirstOrDefault(c => c.Name == name);
            if (folder is null && create)
            {
                foreach (var part in FolderNames.Parents(name).Append(name))
                {
                    if (Find(part) is not null || created.Any(c => c.Name == part)) continue;
                    var uv = NextUidValidity(change.LastUidValidity);
                    change.LastUidValidity = uv;
                    var nf = new Folder(new FolderRow(nextId++, part, SpecialUse.None, uv, 1, 1, true, 1, 0, 0, 0)) { Messages = [] };
                    change.NewFolders.Add(nf.ToRow());
                    if (!_subscriptions.Contains(part)) change.Subscribed.Add(part);
                    created.Add(nf);
                }
                folder = created.First(c => c.Name == name);
            }
            if (folder is null) continue;
            var c = created.Contains(folder) ? folder : (clones.TryGetValue(folder.Id, out var cl) ? cl : clones[folder.Id] = folder.Clone());
            var (flags, keywords) = ImapFlags(flagNames);
            var row = new MessageRow(c.Id, c.UidNext, item.BlobDomain, item.BlobHash, item.Size, MailboxStore.InZone(item.ReceivedAt, null),
                flags, keywords, c.HighestModSeq + 1, rows.Count == 0 ? item.DeliveryId : null, now, item.ThreadId);
            c.UidNext++;
            c.HighestModSeq++;
            c.Count++;
            c.Unseen += Unseen(row);
            c.Bytes += row.Size;
            change.UsedBytes += row.Size;
            change.Messages++;
            rows.Add(row);
        }
        change.Inserted.AddRange(rows);
        foreach (var c in clones.Values) change.FolderUpdates.Add(c.ToRow());
        foreach (var c in created) change.FolderUpdates.Add(c.ToRow());
        // The queue event's blob reference goes to the first copy; more copies add references, none releases it.
        if (rows.Count != 1) change.BlobDeltas.Add((item.BlobDomain, item.BlobHash, rows.Count - 1));
        // The script's $Junk / $NotJunk (addflag, setflag, :flags) is the user's verdict given in advance.
        QueueNewMessageVerdicts(change, rows);
        var outcome = await CommitAsync(change, () =>
        {
            foreach (var f in created) _folders[f.Id] = f;
            _subscriptions.UnionWith(change.Subscribed);
            foreach (var (id, c) in clones)
            {
                var f = _folders[id];
                Apply(f, c);
                f.Messages?.AddRange(rows.Where(r => r.FolderId == id));
            }
            foreach (var f in created) f.Messages = [.. rows.Where(r => r.FolderId == f.Id)];
        });
        if (outcome != CommitOutcome.Committed)
        {
            logger.LogDebug("Sieve delivery {Id} to {Address} was a duplicate ({Outcome})", item.DeliveryId, _address, outcome);
            return true;
        }
        GrainMail.Operations.GrainMailMeters.Delivered.Add(1);
        Teach(change);
        if (rows.Count > 0 && item.Dsn is not null && DsnRequest.Parse(item.Dsn).Default.Wants(DsnNotify.Success))
            await ReportAsync(item, new GrainMail.Outbound.RecipientResult(_address, GrainMail.Outbound.RecipientOutcome.Delivered, "250 2.0.0 Delivered", null));
        return true;
    }

    /// <summary>
    /// The recipient as the sender wrote it (RFC 5228 5.4 "to"), so that :detail sees "+tag": ORCPT
    /// (RFC 3461) when given, else the "for" of our own topmost Received field — either only when it
    /// is this mailbox's address with a detail. Otherwise the mailbox address.
    /// </summary>
    private string EnvelopeRecipient(DeliveryEvent item, MimeMessage message)
    {
        string? candidate = null;
        var orcpt = DsnRequest.Parse(item.Dsn).Default.OriginalRecipient;
        if (orcpt is not null && orcpt.StartsWith("rfc822;", StringComparison.OrdinalIgnoreCase)) candidate = orcpt[7..].Trim();
        else if (message.Headers.FirstOrDefault(h => h.Id == HeaderId.Received)?.Value is { } received
            && System.Text.RegularExpressions.Regex.Match(received, @"\bfor\s+<([^>\s]+)>") is { Success: true } m)
            candidate = m.Groups[1].Value;
        if (candidate is null) return _address;
        var at = candidate.LastIndexOf('@');
        if (at <= 0) return _address;
        var local = candidate[..at];
        var plus = local.IndexOf(SieveAddresses.DetailSeparator);
        var user = plus < 0 ? local : local[..plus];
        return string.Equals(user + "@" + candidate[(at + 1)..], _address, StringComparison.OrdinalIgnoreCase) ? candidate : _address;
    }

    /// <summary>Sieve flag names (RFC 5232) as IMAP system flags and keywords; names that are no IMAP atom are dropped.</summary>
    private static (MessageFlags Flags, string[] Keywords) ImapFlags(IEnumerable<string> names)
    {
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        foreach (var n in names)
        {
            switch (n.ToLowerInvariant())
            {
                case "\\seen": flags |= MessageFlags.Seen; break;
                case "\\answered": flags |= MessageFlags.Answered; break;
                case "\\flagged": flags |= MessageFlags.Flagged; break;
                case "\\deleted": flags |= MessageFlags.Deleted; break;
                case "\\draft": flags |= MessageFlags.Draft; break;
                default:
                    // RFC 3501 atom: no specials, no backslash (system flags are the ones above).
                    if (n.Length is > 0 and <= 64 && n.All(ch => ch > ' ' && ch < 0x7f && "(){%*\"\\]".IndexOf(ch) < 0)
                        && !keywords.Contains(n, StringComparer.OrdinalIgnoreCase))
                        keywords.Add(n);
                    break;
            }
        }
        return (flags, [.. keywords]);
    }
}
