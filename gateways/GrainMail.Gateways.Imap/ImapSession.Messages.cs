using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Gateways.Imap;

// Message commands: FETCH, STORE, COPY, MOVE, EXPUNGE (and their UID forms).
internal sealed partial class ImapSession
{
    /// <summary>Flush a long FETCH in pieces so that memory stays bounded whatever the range.</summary>
    private const int FlushThreshold = 256 * 1024;

    /// <summary>The view's indexes named by a sequence set: UIDs or message sequence numbers.</summary>
    private IReadOnlyList<int> Resolve(SequenceSet set, bool uid)
    {
        var view = _selected!;
        if (set.IsSavedResult) throw new ImapSyntaxException("Saved search results ($) are not supported");
        if (uid) return set.IndexesIn(view.Uids).ToList();
        return set.SequenceIndexes(view.Messages.Count) ?? throw new ImapSyntaxException("Invalid message sequence number");
    }

    private async Task<bool> FetchAsync(FetchCommand c)
    {
        var (tag, uid, set, changedSince) = (c.Tag, c.Uid, c.Set, c.ChangedSince);
        var items = c.Items.ToList();
        if (changedSince is not null || items.Any(i => i.Kind == FetchKind.ModSeq)) _condstore = true;
        if (uid && !items.Any(i => i.Kind == FetchKind.Uid)) items.Insert(0, new FetchItem(FetchKind.Uid));
        if (changedSince is not null && !items.Any(i => i.Kind == FetchKind.ModSeq)) items.Add(new FetchItem(FetchKind.ModSeq));

        await SyncAsync(allowExpunge: uid);
        var view = _selected!;
        var indexes = Resolve(set, uid);
        if (changedSince is long since) indexes = indexes.Where(i => view.Messages[i].ModSeq > since).ToList();

        // Reading a body without PEEK sets \Seen (RFC 3501 6.4.5), before the answer so that it shows.
        var setsSeen = !view.ReadOnly && items.Any(i => i.Kind == FetchKind.Section && !i.Peek);
        var seenNow = new HashSet<long>();
        if (setsSeen)
        {
            var unseen = indexes.Select(i => view.Messages[i]).Where(m => (m.Flags & MessageFlags.Seen) == 0).Select(m => m.Uid).ToList();
            if (unseen.Count > 0)
            {
                var result = await _mailbox!.StoreFlags(view.Name, unseen, new FlagChange(FlagChangeMode.Add, MessageFlags.Seen, []));
                foreach (var changed in result.Changed)
                {
                    var i = view.IndexOf(changed.Uid);
                    if (i >= 0) view.Messages[i] = changed;
                    seenNow.Add(changed.Uid);
                }
            }
        }
        var needContent = items.Any(i => i.Kind is FetchKind.Envelope or FetchKind.Body or FetchKind.BodyStructure or FetchKind.Section);
        // BODY[]<offset.length> alone (clients that download large messages in pieces) needs only
        // the bytes of the range: large messages are then read by range, never whole.
        var rangesOnly = needContent && items.Where(i => i.Kind is FetchKind.Envelope or FetchKind.Body or FetchKind.BodyStructure or FetchKind.Section)
            .All(IsWholeMessageRange);
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
                    var bytes = await _server.Messages.GetRangeAsync(m.Blob, offset, (int)Math.Min(item.PartialLength!.Value, m.Blob.Size - offset));
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
                content = await _server.Messages.GetAsync(m.Blob);
                if (content is null)
                {
                    // Expunged meanwhile by another session and its bytes released: say so at the end.
                    missing = true;
                    continue;
                }
            }
            _out.Raw("* ").Number(index + 1).Raw(" FETCH (");
            var first = true;
            var flagsWritten = false;
            foreach (var item in items)
            {
                if (!first) _out.Raw(" ");
                first = false;
                if (ranges?.TryGetValue(item, out var range) == true) WriteRange(item, range);
                else WriteFetchItem(item, m, content, view, ref flagsWritten);
            }
            if (seenNow.Contains(m.Uid) && !flagsWritten)
            {
                _out.Raw(" ");
                WriteFlags(m, view);
            }
            _out.Raw(")").Crlf();
            if (_out.Length > FlushThreshold) await FlushAsync(_connection.ConnectionClosed);
        }
        if (missing) return No(tag, "Some messages were expunged and could not be fetched");
        return Ok(tag, uid ? "UID FETCH completed" : "FETCH completed");
    }

    private void WriteFetchItem(FetchItem item, MessageMeta m, LoadedMessage? content, SelectedFolder view, ref bool flagsWritten)
    {
        switch (item.Kind)
        {
            case FetchKind.Flags:
                WriteFlags(m, view);
                flagsWritten = true;
                break;
            case FetchKind.Uid:
                _out.Raw("UID ").Number(m.Uid);
                break;
            case FetchKind.ModSeq:
                _out.Raw("MODSEQ (").Number(m.ModSeq).Raw(")");
                break;
            case FetchKind.InternalDate:
                _out.Raw("INTERNALDATE \"").Raw(FormatDateTime(m.InternalDate)).Raw("\"");
                break;
            case FetchKind.Rfc822Size:
                _out.Raw("RFC822.SIZE ").Number(m.Blob.Size);
                break;
            case FetchKind.Envelope:
                _out.Raw("ENVELOPE ");
                ImapBodyFormatter.Envelope(_out, content!.Root);
                break;
            case FetchKind.Body:
                _out.Raw("BODY ");
                ImapBodyFormatter.BodyStructure(_out, content!.Raw, content.Root, extensible: false);
                break;
            case FetchKind.BodyStructure:
                _out.Raw("BODYSTRUCTURE ");
                ImapBodyFormatter.BodyStructure(_out, content!.Raw, content.Root, extensible: true);
                break;
            case FetchKind.Section:
                WriteSection(item, content!);
                break;
        }
    }

    /// <summary>Messages above this size are read by range for BODY[]&lt;partial&gt;; smaller ones whole (and cached).</summary>
    private const long RangeReadThreshold = 1024 * 1024;

    private static bool IsWholeMessageRange(FetchItem i) =>
        i is { Kind: FetchKind.Section, PartialOffset: not null, LegacyName: null, Section: { Path.Length: 0, Text: SectionText.All } };

    private void WriteRange(FetchItem item, byte[] bytes) =>
        _out.Raw("BODY[]<").Number(item.PartialOffset!.Value).Raw("> ").Literal(bytes);

    private void WriteSection(FetchItem item, LoadedMessage content)
    {
        var section = item.Section!;
        var bytes = SectionBytes(content, section);
        if (item.LegacyName is { } legacy)
        {
            _out.Raw(legacy).Raw(" ").Literal(bytes);
            return;
        }
        _out.Raw("BODY[").Raw(section.Label).Raw("]");
        if (item.PartialOffset is long offset)
        {
            _out.Raw("<").Number(offset).Raw(">");
            var start = (int)Math.Min(offset, bytes.Length);
            var length = (int)Math.Min(item.PartialLength!.Value, bytes.Length - start);
            bytes = bytes.Slice(start, length);
        }
        _out.Raw(" ").Literal(bytes);
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

    private async Task<bool> StoreAsync(StoreCommand c)
    {
        var (tag, uid, set, unchangedSince, mode, silent, flags, keywords) = (c.Tag, c.Uid, c.Set, c.UnchangedSince, c.Mode, c.Silent, c.Flags, c.Keywords);
        if (unchangedSince is not null) _condstore = true;
        await SyncAsync(allowExpunge: uid);
        var view = _selected!;
        if (view.ReadOnly) return No(tag, "[READ-ONLY] The mailbox is read-only");
        var indexes = Resolve(set, uid);
        var uids = indexes.Select(i => view.Messages[i].Uid).ToList();
        if (uids.Count == 0) return Ok(tag, "STORE completed");
        var result = await _mailbox!.StoreFlags(view.Name, uids, new FlagChange(mode, flags, keywords, unchangedSince));
        var changedUids = new HashSet<long>();
        foreach (var m in result.Changed)
        {
            var i = view.IndexOf(m.Uid);
            if (i < 0) continue;
            view.Messages[i] = m;
            changedUids.Add(m.Uid);
        }
        var failed = result.FailedUnchangedSince.ToHashSet();
        foreach (var i in indexes)
        {
            var m = view.Messages[i];
            if (failed.Contains(m.Uid)) continue;
            // .SILENT still reports MODSEQ of changed messages to a CONDSTORE client (RFC 7162 3.1.3).
            if (silent && !(unchangedSince is not null && changedUids.Contains(m.Uid))) continue;
            _out.Raw("* ").Number(i + 1).Raw(" FETCH (");
            var parts = 0;
            if (!silent)
            {
                WriteFlags(m, view);
                parts++;
            }
            if (uid)
            {
                _out.Raw(parts++ > 0 ? " UID " : "UID ").Number(m.Uid);
            }
            if (_condstore) _out.Raw(parts++ > 0 ? " MODSEQ (" : "MODSEQ (").Number(m.ModSeq).Raw(")");
            _out.Raw(")").Crlf();
        }
        if (failed.Count > 0)
        {
            var failedNumbers = uid ? failed.Order() : failed.Select(u => (long)view.IndexOf(u) + 1).Order();
            return Ok(tag, $"[MODIFIED {SequenceSet.Format(failedNumbers)}] Conditional STORE failed for some messages");
        }
        return Ok(tag, "STORE completed");
    }

    private async Task<bool> CopyAsync(CopyCommand c)
    {
        var (tag, uid, move, set, target) = (c.Tag, c.Uid, c.Move, c.Set, c.Target);
        await SyncAsync(allowExpunge: uid || move);
        var view = _selected!;
        if (move && view.ReadOnly) return No(tag, "[READ-ONLY] The mailbox is read-only");
        var uids = Resolve(set, uid).Select(i => view.Messages[i].Uid).ToList();
        var verb = move ? "MOVE" : "COPY";
        if (uids.Count == 0) return Ok(tag, $"{verb} completed");
        if (await _mailbox!.GetFolder(target) is null) return No(tag, "[TRYCREATE] No such mailbox");
        var result = move ? await _mailbox.Move(view.Name, uids, target) : await _mailbox.Copy(view.Name, uids, target);
        if (result.Status != MailboxOpStatus.Ok) return No(tag, StatusText(result.Status));
        if (result.SourceUids.Count == 0) return Ok(tag, $"{verb} completed");
        var copyUid = $"[COPYUID {result.TargetUidValidity} {SequenceSet.Format(result.SourceUids)} {SequenceSet.Format(result.TargetUids)}]";
        if (!move) return Ok(tag, copyUid + " COPY completed");
        // MOVE (RFC 6851): COPYUID untagged, then the expunges, then OK.
        _out.Line("* OK " + copyUid + " Moved");
        foreach (var u in result.SourceUids)
        {
            var i = view.IndexOf(u);
            if (i < 0) continue;
            view.Messages.RemoveAt(i);
            view.PendingExpunge.Remove(u);
            _out.Raw("* ").Number(i + 1).Line(" EXPUNGE");
        }
        return Ok(tag, "MOVE completed");
    }

    private async Task<bool> ExpungeAsync(ExpungeCommand c)
    {
        var tag = c.Tag;
        IReadOnlyList<long>? only = c.UidSet is { } set ? Resolve(set, uid: true).Select(i => _selected!.Messages[i].Uid).ToList() : null;
        var view = _selected!;
        if (view.ReadOnly) return No(tag, "[READ-ONLY] The mailbox is read-only");
        if (only is { Count: 0 }) return Ok(tag, "EXPUNGE completed");
        var result = await _mailbox!.Expunge(view.Name, only);
        foreach (var u in result.Uids) if (view.IndexOf(u) >= 0) view.PendingExpunge.Add(u);
        await SyncAsync(allowExpunge: true, force: true);
        return Ok(tag, "EXPUNGE completed");
    }
}
