using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Protocol;
using System.Globalization;

using GrainMail.Gateways.Common.Mime;
using GrainMail.Gateways.Common.Objects;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// Commands on messages (RFC 3501 6.3.11, 6.4.3-6.4.8; RFC 9051 6.3.12, 6.4): APPEND, FETCH,
/// STORE, COPY, MOVE (RFC 6851), EXPUNGE and their UID forms (RFC 4315 UIDPLUS).
/// </summary>
internal sealed class MessageCommands(ImapSessionContext session)
{
    private ImapWriter Out => session.Out;

    /// <summary>Flush a long FETCH in pieces so that memory stays bounded whatever the range.</summary>
    private const int FlushThreshold = 256 * 1024;

    /// <summary>The view's indexes named by a sequence set: UIDs or message sequence numbers.</summary>
    private IReadOnlyList<int> Resolve(SequenceSet set, bool uid)
    {
        var view = session.Selected!;
        // "$" is the saved search result (RFC 5182): its UIDs that are still in the view.
        if (set.IsSavedResult) return [.. session.SavedResult.Select(view.IndexOf).Where(i => i >= 0).Order()];
        if (uid) return set.IndexesIn(view.Uids).ToList();
        return set.SequenceIndexes(view.Messages.Count) ?? throw new ImapSyntaxException("Invalid message sequence number");
    }

    public async Task<bool> FetchAsync(FetchCommand c)
    {
        var (tag, uid, set, changedSince) = (c.Tag, c.Uid, c.Set, c.ChangedSince);
        var items = c.Items.ToList();
        if (changedSince is not null || items.Any(i => i.Kind == FetchKind.ModSeq)) session.Condstore = true;
        if (uid && !items.Any(i => i.Kind == FetchKind.Uid)) items.Insert(0, new FetchItem(FetchKind.Uid));
        if (changedSince is not null && !items.Any(i => i.Kind == FetchKind.ModSeq)) items.Add(new FetchItem(FetchKind.ModSeq));

        await session.Updates.SyncAsync(allowExpunge: uid);
        var view = session.Selected!;
        var indexes = Resolve(set, uid);
        if (changedSince is long since) indexes = indexes.Where(i => view.Messages[i].ModSeq > since).ToList();
        if (c.Vanished)
        {
            // RFC 7162 3.2.6: UIDs of the set expunged since CHANGEDSINCE, before the FETCH responses.
            if (!session.Qresync) return await session.BadAsync(tag, "VANISHED needs ENABLE QRESYNC");
            var vanished = await session.Updates.VanishedSinceAsync(changedSince!.Value, (u, largest) => !set.IsSavedResult && set.Contains(u, largest));
            if (vanished.Count > 0) Out.Line("* VANISHED (EARLIER) " + SequenceSet.Format(vanished));
        }

        // Reading a body without PEEK sets \Seen (RFC 3501 6.4.5), before the answer so that it shows.
        var setsSeen = !view.ReadOnly && items.Any(i => i.Kind is FetchKind.Section or FetchKind.Binary && !i.Peek);
        var seenNow = new HashSet<long>();
        if (setsSeen)
        {
            var unseen = indexes.Select(i => view.Messages[i]).Where(m => (m.Flags & MessageFlags.Seen) == 0).Select(m => m.Uid).ToList();
            if (unseen.Count > 0)
            {
                var result = await session.Mailbox.StoreFlags(view.Name, unseen, new FlagChange(FlagChangeMode.Add, MessageFlags.Seen, []));
                foreach (var changed in result.Changed)
                {
                    var i = view.IndexOf(changed.Uid);
                    if (i >= 0) view.Messages[i] = changed;
                    seenNow.Add(changed.Uid);
                }
            }
        }
        var (unknownEncoding, missing) = await WriteFetchResponsesAsync(view, indexes, items, seenNow);
        if (unknownEncoding) return session.No(tag, "[UNKNOWN-CTE] A part has a transfer encoding the server cannot decode");
        if (missing) return session.No(tag, "Some messages were expunged and could not be fetched");
        return session.Ok(tag, uid ? "UID FETCH completed" : "FETCH completed");
    }

    /// <summary>
    /// The untagged FETCH responses for messages of the view (<paramref name="indexes"/>): FETCH and
    /// NOTIFY's MessageNew with fetch attributes (RFC 5465 5.2) share it. Says whether a part could
    /// not be decoded (UNKNOWN-CTE) and whether a message's bytes were gone.
    /// </summary>
    internal async Task<(bool UnknownEncoding, bool Missing)> WriteFetchResponsesAsync(SelectedFolder view, IReadOnlyList<int> indexes, List<FetchItem> items, HashSet<long> seenNow)
    {
        var needContent = items.Any(i => i.Kind is FetchKind.Envelope or FetchKind.Body or FetchKind.BodyStructure or FetchKind.Section
            or FetchKind.Binary or FetchKind.BinarySize or FetchKind.ThreadId);
        // BODY[]<offset.length> alone (clients that download large messages in pieces) needs only
        // the bytes of the range: large messages are then read by range, never whole.
        var rangesOnly = needContent && items.Where(i => i.Kind is FetchKind.Envelope or FetchKind.Body or FetchKind.BodyStructure or FetchKind.Section
            or FetchKind.Binary or FetchKind.BinarySize or FetchKind.ThreadId).All(IsWholeMessageRange);
        var unknownEncoding = false;
        var missing = false;
        foreach (var index in indexes)
        {
            var m = view.Messages[index];
            LoadedMessage? content = null;
            Dictionary<FetchItem, byte[]>? ranges = null;
            if (rangesOnly && m.Blob.Size > RangeReadThreshold)
            {
                ranges = [];
                foreach (var item in items.Where(IsWholeMessageRange))
                {
                    var offset = Math.Min(item.PartialOffset!.Value, m.Blob.Size);
                    var bytes = await session.Server.Messages.GetRangeAsync(m.Blob, offset, (int)Math.Min(item.PartialLength!.Value, m.Blob.Size - offset));
                    if (bytes is null) break;
                    ranges[item] = bytes;
                }
                if (ranges.Count < items.Count(IsWholeMessageRange))
                {
                    missing = true;
                    continue;
                }
            }
            else if (needContent)
            {
                content = await session.Server.Messages.GetAsync(m.Blob);
                if (content is null)
                {
                    // Expunged meanwhile by another session and its bytes released: say so at the end.
                    missing = true;
                    continue;
                }
            }
            // BINARY of a part whose transfer encoding cannot be undone fails the command (RFC 3516 4.3): decode before writing.
            Dictionary<FetchItem, byte[]>? decoded = null;
            if (content is not null && items.Any(i => i.Kind is FetchKind.Binary or FetchKind.BinarySize))
            {
                decoded = [];
                foreach (var item in items.Where(i => i.Kind is FetchKind.Binary or FetchKind.BinarySize))
                {
                    var (outcome, bytes) = BinaryContent.Decode(content.Raw, content.Root, item.Section!.Path);
                    if (outcome == BinaryContent.Outcome.UnknownEncoding) unknownEncoding = true;
                    decoded[item] = bytes;
                }
                if (unknownEncoding) continue;
            }
            Out.Raw("* ").Number(index + 1).Raw(" FETCH (");
            var first = true;
            var flagsWritten = false;
            foreach (var item in items)
            {
                if (!first) Out.Raw(" ");
                first = false;
                if (ranges?.TryGetValue(item, out var range) == true) WriteRange(item, range);
                else if (decoded?.TryGetValue(item, out var binary) == true) WriteBinary(item, binary);
                else WriteFetchItem(item, m, content, view, ref flagsWritten);
            }
            if (seenNow.Contains(m.Uid) && !flagsWritten)
            {
                Out.Raw(" ");
                session.Updates.WriteFlags(m, view);
            }
            Out.Raw(")").Crlf();
            if (Out.Length > FlushThreshold) await session.FlushAsync(session.ConnectionClosed);
        }
        return (unknownEncoding, missing);
    }

    private void WriteFetchItem(FetchItem item, MessageMeta m, LoadedMessage? content, SelectedFolder view, ref bool flagsWritten)
    {
        switch (item.Kind)
        {
            case FetchKind.Flags:
                session.Updates.WriteFlags(m, view);
                flagsWritten = true;
                break;
            case FetchKind.Uid:
                Out.Raw("UID ").Number(m.Uid);
                break;
            case FetchKind.ModSeq:
                Out.Raw("MODSEQ (").Number(m.ModSeq).Raw(")");
                break;
            case FetchKind.InternalDate:
                Out.Raw("INTERNALDATE \"").Raw(FormatDateTime(m.InternalDate)).Raw("\"");
                break;
            case FetchKind.Rfc822Size:
                Out.Raw("RFC822.SIZE ").Number(m.Blob.Size);
                break;
            case FetchKind.Envelope:
                Out.Raw("ENVELOPE ");
                ImapBodyFormatter.Envelope(Out, content!.Root);
                break;
            case FetchKind.Body:
                Out.Raw("BODY ");
                ImapBodyFormatter.BodyStructure(Out, content!.Raw, content.Root, extensible: false);
                break;
            case FetchKind.BodyStructure:
                Out.Raw("BODYSTRUCTURE ");
                ImapBodyFormatter.BodyStructure(Out, content!.Raw, content.Root, extensible: true);
                break;
            case FetchKind.Section:
                WriteSection(item, content!);
                break;
            case FetchKind.EmailId:
                Out.Raw("EMAILID (").Raw(ObjectIds.EmailId(m.Blob)).Raw(")");
                break;
            case FetchKind.ThreadId:
                Out.Raw("THREADID (").Raw(ObjectIds.ThreadId(content!.Root.Headers, m.Blob)).Raw(")");
                break;
            case FetchKind.SaveDate:
                // RFC 8514 4.1: when the message was put into this mailbox.
                Out.Raw("SAVEDATE \"").Raw(FormatDateTime((m.SaveDate ?? m.InternalDate).ToUniversalTime())).Raw("\"");
                break;
        }
    }

    /// <summary>BINARY[part]&lt;partial&gt; or BINARY.SIZE[part] (RFC 3516 4.2); a literal8 only when the octets include NUL.</summary>
    private void WriteBinary(FetchItem item, byte[] bytes)
    {
        var path = string.Join('.', item.Section!.Path);
        if (item.Kind == FetchKind.BinarySize)
        {
            Out.Raw("BINARY.SIZE[").Raw(path).Raw("] ").Number(bytes.Length);
            return;
        }
        Out.Raw("BINARY[").Raw(path).Raw("]");
        ReadOnlySpan<byte> span = bytes;
        if (item.PartialOffset is long offset)
        {
            Out.Raw("<").Number(offset).Raw(">");
            var start = (int)Math.Min(offset, span.Length);
            span = span.Slice(start, (int)Math.Min(item.PartialLength!.Value, span.Length - start));
        }
        Out.Raw(" ");
        if (span.Contains((byte)0)) Out.Raw("~");
        Out.Literal(span);
    }

    /// <summary>Messages above this size are read by range for BODY[]&lt;partial&gt;; smaller ones whole (and cached).</summary>
    private const long RangeReadThreshold = 1024 * 1024;

    private static bool IsWholeMessageRange(FetchItem i) =>
        i is { Kind: FetchKind.Section, PartialOffset: not null, LegacyName: null, Section: { Path.Length: 0, Text: SectionText.All } };

    private void WriteRange(FetchItem item, byte[] bytes) =>
        Out.Raw("BODY[]<").Number(item.PartialOffset!.Value).Raw("> ").Literal(bytes);

    private void WriteSection(FetchItem item, LoadedMessage content)
    {
        var section = item.Section!;
        var bytes = SectionBytes(content, section);
        if (item.LegacyName is { } legacy)
        {
            Out.Raw(legacy).Raw(" ").Literal(bytes);
            return;
        }
        Out.Raw("BODY[").Raw(section.Label).Raw("]");
        if (item.PartialOffset is long offset)
        {
            Out.Raw("<").Number(offset).Raw(">");
            var start = (int)Math.Min(offset, bytes.Length);
            var length = (int)Math.Min(item.PartialLength!.Value, bytes.Length - start);
            bytes = bytes.Slice(start, length);
        }
        Out.Raw(" ").Literal(bytes);
    }

    /// <summary>The octets of a BODY[section] (RFC 3501 6.4.5); empty when the part does not exist.</summary>
    internal static ReadOnlySpan<byte> SectionBytes(LoadedMessage content, Section section)
    {
        var raw = content.Raw;
        // Walk the part path (RFC 3501 6.4.5): in a multipart, n is its nth part; in anything
        // else only 1, the body itself. A message/rfc822 part's numbers go on into the message it encloses.
        MimeNode scope = content.Root, node = content.Root;
        for (var i = 0; i < section.Path.Length; i++)
        {
            var n = section.Path[i];
            if (scope.IsMultipart)
            {
                if (n > scope.Children.Count) return [];
                node = scope.Children[n - 1];
            }
            else if (n == 1)
            {
                node = scope;
            }
            else
            {
                return [];
            }
            if (i == section.Path.Length - 1) break;
            if (node.IsMessage && node.Message is { } enclosed) scope = enclosed;
            else if (node.IsMultipart && node != scope) scope = node;
            else return [];
        }
        var text = section.Text;
        if (section.Path.Length > 0 && text is SectionText.Header or SectionText.Text or SectionText.HeaderFields or SectionText.HeaderFieldsNot)
        {
            // HEADER/TEXT of a part apply to the message it encloses (message/rfc822).
            if (!node.IsMessage || node.Message is null) return [];
            node = node.Message;
        }
        return text switch
        {
            SectionText.All when section.Path.Length == 0 => raw,
            SectionText.All => raw.AsSpan(node.BodyStart, node.BodyLength),
            SectionText.Header => raw.AsSpan(node.Start, node.BodyStart - node.Start),
            SectionText.Text => raw.AsSpan(node.BodyStart, node.BodyLength),
            SectionText.Mime => raw.AsSpan(node.Start, node.BodyStart - node.Start),
            SectionText.HeaderFields => ImapBodyFormatter.HeaderFields(raw, node, section.Fields, not: false),
            SectionText.HeaderFieldsNot => ImapBodyFormatter.HeaderFields(raw, node, section.Fields, not: true),
            _ => [],
        };
    }

    public async Task<bool> StoreAsync(StoreCommand c)
    {
        var (tag, uid, set, unchangedSince, mode, silent, flags, keywords) = (c.Tag, c.Uid, c.Set, c.UnchangedSince, c.Mode, c.Silent, c.Flags, c.Keywords);
        if (unchangedSince is not null) session.Condstore = true;
        await session.Updates.SyncAsync(allowExpunge: uid);
        var view = session.Selected!;
        if (view.ReadOnly) return session.No(tag, "[READ-ONLY] The mailbox is read-only");
        var indexes = Resolve(set, uid);
        var uids = indexes.Select(i => view.Messages[i].Uid).ToList();
        if (uids.Count == 0) return session.Ok(tag, "STORE completed");
        var result = await session.Mailbox.StoreFlags(view.Name, uids, new FlagChange(mode, flags, keywords, unchangedSince));
        var changedUids = new HashSet<long>();
        foreach (var m in result.Changed)
        {
            var i = view.IndexOf(m.Uid);
            if (i < 0) continue;
            view.Messages[i] = m;
            changedUids.Add(m.Uid);
        }
        var failed = result.FailedUnchangedSince.ToHashSet();
        // Expunged by another session before this STORE reached them: no FETCH from this view's old
        // copy (it would show flags the message never had); the expunge is told as usual, at once
        // for UID STORE, after the command for STORE by sequence number (RFC 3501 7.4.1).
        var gone = result.Gone?.ToHashSet() ?? [];
        foreach (var u in gone) view.PendingExpunge.Add(u);
        // A keyword new to this session is listed in FLAGS before the FETCH that carries it (RFC 3501 7.2.6).
        session.Updates.AnnounceKeywords(result.Changed);
        foreach (var i in indexes)
        {
            var m = view.Messages[i];
            if (failed.Contains(m.Uid) || gone.Contains(m.Uid)) continue;
            // .SILENT still reports MODSEQ of changed messages to a CONDSTORE client (RFC 7162 3.1.3).
            if (silent && !(unchangedSince is not null && changedUids.Contains(m.Uid))) continue;
            Out.Raw("* ").Number(i + 1).Raw(" FETCH (");
            var parts = 0;
            if (!silent)
            {
                session.Updates.WriteFlags(m, view);
                parts++;
            }
            if (uid)
            {
                Out.Raw(parts++ > 0 ? " UID " : "UID ").Number(m.Uid);
            }
            if (session.Condstore) Out.Raw(parts++ > 0 ? " MODSEQ (" : "MODSEQ (").Number(m.ModSeq).Raw(")");
            Out.Raw(")").Crlf();
        }
        if (gone.Count > 0 && uid) session.Updates.RemoveAndReport([.. gone.Order()]);
        if (failed.Count > 0)
        {
            var failedNumbers = uid ? failed.Order() : failed.Select(u => (long)view.IndexOf(u) + 1).Order();
            return session.Ok(tag, $"[MODIFIED {SequenceSet.Format(failedNumbers)}] Conditional STORE failed for some messages");
        }
        return session.Ok(tag, "STORE completed");
    }

    public async Task<bool> CopyAsync(CopyCommand c)
    {
        var (tag, uid, move, set, target) = (c.Tag, c.Uid, c.Move, c.Set, c.Target);
        // Sequence numbers name messages of the client's current view: expunges it has not been
        // told of wait until the set is resolved (RFC 3501 7.4.1); UIDs do not move.
        await session.Updates.SyncAsync(allowExpunge: uid);
        var view = session.Selected!;
        if (move && view.ReadOnly) return session.No(tag, "[READ-ONLY] The mailbox is read-only");
        var uids = Resolve(set, uid).Select(i => view.Messages[i].Uid).ToList();
        var verb = move ? "MOVE" : "COPY";
        if (uids.Count == 0) return session.Ok(tag, $"{verb} completed");
        if (await session.Mailbox.GetFolder(target) is null) return session.No(tag, "[TRYCREATE] No such mailbox");
        var result = move ? await session.Mailbox.Move(view.Name, uids, target) : await session.Mailbox.Copy(view.Name, uids, target);
        if (result.Status != MailboxOpStatus.Ok) return session.No(tag, ImapSessionContext.StatusText(result.Status));
        if (result.SourceUids.Count == 0) return session.Ok(tag, $"{verb} completed");
        var copyUid = $"[COPYUID {result.TargetUidValidity} {SequenceSet.Format(result.SourceUids)} {SequenceSet.Format(result.TargetUids)}]";
        if (!move)
        {
            // Copied into the selected folder: this command's response tells of them (RFC 3501 6.4.7, 7.3.1).
            if (view.IsNamed(target)) await session.Updates.SyncAsync(allowExpunge: true, force: true);
            return session.Ok(tag, copyUid + " COPY completed");
        }
        // MOVE (RFC 6851): COPYUID untagged, then the expunges (VANISHED under QRESYNC), then OK.
        Out.Line("* OK " + copyUid + " Moved");
        session.Updates.RemoveAndReport(result.SourceUids);
        // Moved within the selected folder: the messages under their new UIDs come with this response.
        if (view.IsNamed(target)) await session.Updates.SyncAsync(allowExpunge: true, force: true);
        return session.Ok(tag, "MOVE completed");
    }

    public async Task<bool> ExpungeAsync(ExpungeCommand c)
    {
        var tag = c.Tag;
        IReadOnlyList<long>? only = c.UidSet is { } set ? Resolve(set, uid: true).Select(i => session.Selected!.Messages[i].Uid).ToList() : null;
        var view = session.Selected!;
        if (view.ReadOnly) return session.No(tag, "[READ-ONLY] The mailbox is read-only");
        if (only is { Count: 0 }) return session.Ok(tag, "EXPUNGE completed");
        var result = await session.Mailbox.Expunge(view.Name, only);
        foreach (var u in result.Uids) if (view.IndexOf(u) >= 0) view.PendingExpunge.Add(u);
        await session.Updates.SyncAsync(allowExpunge: true, force: true);
        return session.Ok(tag, "EXPUNGE completed");
    }

    public async Task<bool> AppendAsync(AppendCommand c)
    {
        var (tag, name, message, flags, keywords, date) = (c.Tag, c.Mailbox, c.Message, c.Flags, c.Keywords, c.Date);
        if (message.Length == 0) return session.No(tag, "Empty message");
        if (c.Binary)
        {
            // RFC 3516 4.4: binary content is accepted in a literal8. The store keeps message text, so
            // binary parts are kept base64-encoded (BINARY[part] gives back the same octets); binary
            // octets outside any part body cannot be kept, and that is NO [UNKNOWN-CTE].
            var (outcome, storable) = BinaryUpload.MakeStorable(message);
            if (outcome == BinaryUpload.Outcome.Unstorable)
                return session.No(tag, "[UNKNOWN-CTE] Binary octets outside a message part cannot be stored");
            message = storable;
        }
        // One rule for message text at every way in: CRLF line ends, no NUL, bounded header section (RFC 5530 codes).
        var (normalized, problem) = MessageText.Normalize(message, session.Options.MessageText);
        if (normalized is null)
            return session.No(tag, (MessageText.IsHeaderLimit(problem) ? "[LIMIT] " : "[PARSE] ") + MessageText.Describe(problem, session.Options.MessageText));
        message = normalized;
        var result = await session.Mailbox.Append(name, message, flags, keywords, date);
        // Appended to the selected folder: EXISTS (and RECENT) come with this command's response
        // (RFC 3501 6.3.11: the server SHOULD notify the client; RFC 9051 6.3.12).
        if (result.Status == MailboxOpStatus.Ok && session.Selected is { } view && view.IsNamed(name))
            await session.Updates.SyncAsync(allowExpunge: true, force: true);
        return result.Status switch
        {
            MailboxOpStatus.Ok => session.Ok(tag, $"[APPENDUID {result.UidValidity} {result.Uid}] APPEND completed"),
            MailboxOpStatus.NoSuchFolder => session.No(tag, "[TRYCREATE] No such mailbox"),
            _ => session.No(tag, ImapSessionContext.StatusText(result.Status)),
        };
    }

    /// <summary>An IMAP date-time (RFC 3501 9), in the offset the value carries.</summary>
    internal static string FormatDateTime(DateTimeOffset d) =>
        d.ToString("dd-MMM-yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + (d.Offset < TimeSpan.Zero ? "-" : "+") + d.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
}
