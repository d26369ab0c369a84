using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using MimeKit;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>
/// Email/set, /import, /parse and /copy (RFC 8621 4.6-4.9) as mailbox grain operations, the same
/// IMAP uses: keywords are STORE, a mailboxIds change is COPY/MOVE/EXPUNGE, creation and import
/// are APPEND. Open IMAP sessions hear of every change through the grain's watchers.
/// </summary>
public sealed partial class EmailMethods
{
    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        StandardMethods.CheckSetSize(call);
        using var mail = await access.OpenAsync(call, write: true);
        var oldState = mail.View.State;
        StandardMethods.CheckIfInState(call, oldState);
        var response = new SetResponse(mail.Account.Id, oldState);

        foreach (var (cid, node) in Args.Object(call.Arguments, "create") ?? [])
        {
            try
            {
                if (node is not JsonObject props) throw new SetError(StandardMethods.SetError("invalidProperties", "Not an object"));
                // The built message passes the rule of every way in, as a client's own bytes would: header values and body
                // text come from the client (a NUL, a header field over the limits), and what is stored has CRLF line ends.
                var (built, problem) = JmapMessageText.Read(await BuildMessageAsync(props, call, mail), TextLimits);
                if (built is null) throw new SetError(StandardMethods.SetError("invalidProperties", problem));
                var raw = built.Raw;
                var (folders, flags, custom) = Placement(props, call, mail.View);
                var id = await AppendAsync(mail, folders, raw, flags, custom, null);
                call.Request.CreatedIds[cid] = id;
                var copy = mail.View.Copies(id)[0];
                response.Created(cid, new JsonObject { ["id"] = id, ["blobId"] = "B" + id[1..], ["threadId"] = await store.ThreadIdAsync(copy), ["size"] = copy.Meta.Blob.Size });
            }
            catch (SetError e)
            {
                response.NotCreated(cid, e.Error);
            }
        }

        foreach (var (rawId, node) in Args.Object(call.Arguments, "update") ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            try
            {
                if (mail.View.Copies(id).Count == 0) throw new SetError(StandardMethods.SetError("notFound"));
                if (node is not JsonObject patch) throw new SetError(StandardMethods.SetError("invalidProperties", "Not an object"));
                await UpdateAsync(mail, id, patch, call);
                response.Updated(rawId);
            }
            catch (SetError e)
            {
                response.NotUpdated(rawId, e.Error);
            }
        }

        foreach (var rawId in Args.Strings(call.Arguments, "destroy") ?? [])
        {
            var id = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
            var copies = mail.View.Copies(id).ToList();
            if (copies.Count == 0)
            {
                response.NotDestroyed(rawId, StandardMethods.SetError("notFound"));
                continue;
            }
            foreach (var c in copies) await RemoveCopyAsync(mail, c);
            await mail.RefreshAsync();
            response.Destroyed(rawId);
        }
        await mail.RefreshAsync();
        return response.Build(mail.View.State);
    }

    private sealed class SetError(JsonObject error) : Exception((string?)error["type"])
    {
        public JsonObject Error => error;
    }

    private static SetError Invalid(string property, string? description = null) =>
        new(StandardMethods.SetError("invalidProperties", description, [property]));

    /// <summary>mailboxIds and keywords of a create or import: the folders, flags and IMAP keywords.</summary>
    private static (List<FolderView> Folders, MessageFlags Flags, List<string> Custom) Placement(JsonObject props, JmapCall call, MailView view)
    {
        if (props["mailboxIds"] is not JsonObject boxes || boxes.Count == 0) throw Invalid("mailboxIds", "At least one mailbox");
        var folders = new List<FolderView>();
        foreach (var (mid, on) in boxes)
        {
            if (on is null || on.GetValueKind() != System.Text.Json.JsonValueKind.True) throw Invalid("mailboxIds");
            var resolved = StandardMethods.ResolveCreated(call, mid);
            folders.Add((resolved is null ? null : view.FolderByMailboxId(resolved)) ?? throw Invalid("mailboxIds", $"No mailbox '{mid}'"));
        }
        var keywords = new List<string>();
        if (props["keywords"] is JsonObject kw)
            foreach (var (k, on) in kw)
            {
                if (on is null || on.GetValueKind() != System.Text.Json.JsonValueKind.True) throw Invalid("keywords");
                keywords.Add(k);
            }
        else if (props.ContainsKey("keywords") && props["keywords"] is not null) throw Invalid("keywords");
        if (!Keywords.TrySplit(keywords, out var flags, out var custom)) throw Invalid("keywords", "Not a valid keyword");
        return (folders, flags, custom);
    }

    /// <summary>APPEND to the first folder, COPY to the others; the new Email's id.</summary>
    private async Task<string> AppendAsync(MailSession mail, List<FolderView> folders, byte[] raw, MessageFlags flags, List<string> custom, DateTimeOffset? receivedAt)
    {
        var first = folders[0];
        var r = await mail.Grain.Append(first.Info.Name, raw, flags, custom, receivedAt);
        if (r.Status == MailboxOpStatus.OverQuota) throw new SetError(StandardMethods.SetError("overQuota"));
        if (r.Status != MailboxOpStatus.Ok) throw new SetError(StandardMethods.SetError("invalidProperties", r.Status.ToString(), ["mailboxIds"]));
        foreach (var other in folders.Skip(1).DistinctBy(f => f.Info.FolderId))
            await mail.Grain.Copy(first.Info.Name, [r.Uid], other.Info.Name);
        await mail.RefreshAsync();
        return mail.View.Folder(first.Info.FolderId)?.ByUid.GetValueOrDefault(r.Uid)?.EmailId
            ?? throw new SetError(StandardMethods.SetError("serverFail"));
    }

    private async Task UpdateAsync(MailSession mail, string id, JsonObject patch, JmapCall call)
    {
        var copies = mail.View.Copies(id).ToList();
        // Keywords: the whole set, or "keywords/k" patches (RFC 8620 5.3 PatchObject).
        var add = new List<string>();
        var remove = new List<string>();
        List<string>? replace = null;
        HashSet<string>? boxes = null;
        var boxAdd = new List<string>();
        var boxRemove = new List<string>();
        foreach (var (path, value) in patch)
        {
            if (path == "keywords")
            {
                if (value is not JsonObject kw) throw Invalid("keywords");
                replace = [];
                foreach (var (k, on) in kw)
                {
                    if (on?.GetValueKind() != System.Text.Json.JsonValueKind.True) throw Invalid("keywords");
                    replace.Add(k);
                }
            }
            else if (path.StartsWith("keywords/", StringComparison.Ordinal))
            {
                var k = path["keywords/".Length..];
                if (value is null) remove.Add(k);
                else if (value.GetValueKind() == System.Text.Json.JsonValueKind.True) add.Add(k);
                else throw Invalid(path);
            }
            else if (path == "mailboxIds")
            {
                if (value is not JsonObject mb || mb.Count == 0) throw Invalid("mailboxIds");
                boxes = [];
                foreach (var (m, on) in mb)
                {
                    if (on?.GetValueKind() != System.Text.Json.JsonValueKind.True) throw Invalid("mailboxIds");
                    boxes.Add(StandardMethods.ResolveCreated(call, m) ?? m);
                }
            }
            else if (path.StartsWith("mailboxIds/", StringComparison.Ordinal))
            {
                var m = StandardMethods.ResolveCreated(call, path["mailboxIds/".Length..]) ?? "";
                if (value is null) boxRemove.Add(m);
                else if (value.GetValueKind() == System.Text.Json.JsonValueKind.True) boxAdd.Add(m);
                else throw Invalid(path);
            }
            else throw Invalid(path, "Only keywords and mailboxIds can change");
        }
        if (!Keywords.TrySplit(add.Concat(remove).Concat(replace ?? []), out _, out _)) throw Invalid("keywords", "Not a valid keyword");

        if (replace is not null || add.Count > 0 || remove.Count > 0)
        {
            foreach (var c in copies)
            {
                var folder = mail.View.Folder(c.FolderId)!.Info.Name;
                if (replace is not null)
                {
                    Keywords.TrySplit(replace, out var flags, out var custom);
                    // \Deleted is IMAP's own state, not a JMAP keyword: a replace keeps it.
                    await mail.Grain.StoreFlags(folder, [c.Meta.Uid], new FlagChange(FlagChangeMode.Replace, flags | (c.Meta.Flags & MessageFlags.Deleted), custom));
                }
                if (add.Count > 0)
                {
                    Keywords.TrySplit(add, out var flags, out var custom);
                    await mail.Grain.StoreFlags(folder, [c.Meta.Uid], new FlagChange(FlagChangeMode.Add, flags, custom));
                }
                if (remove.Count > 0)
                {
                    Keywords.TrySplit(remove, out var flags, out var custom);
                    await mail.Grain.StoreFlags(folder, [c.Meta.Uid], new FlagChange(FlagChangeMode.Remove, flags, custom));
                }
            }
            await mail.RefreshAsync();
            copies = mail.View.Copies(id).ToList();
        }

        if (boxes is null && boxAdd.Count == 0 && boxRemove.Count == 0) return;
        var current = copies.Select(c => mail.View.Folder(c.FolderId)!.MailboxId).ToHashSet();
        var target = boxes ?? current.Concat(boxAdd).Except(boxRemove).ToHashSet();
        if (target.Count == 0) throw Invalid("mailboxIds", "An Email must stay in at least one mailbox");
        var targetFolders = target.Select(m => mail.View.FolderByMailboxId(m) ?? throw Invalid("mailboxIds", $"No mailbox '{m}'")).ToList();
        var toAdd = targetFolders.Where(f => !current.Contains(f.MailboxId)).ToList();
        var toRemove = copies.Where(c => !target.Contains(mail.View.Folder(c.FolderId)!.MailboxId)).ToList();
        foreach (var dest in toAdd)
        {
            // A move where one copy leaves as another arrives (IMAP MOVE: one expunge, no \Deleted left behind).
            if (toRemove.Count > 0)
            {
                var from = toRemove[0];
                toRemove.RemoveAt(0);
                await mail.Grain.Move(mail.View.Folder(from.FolderId)!.Info.Name, [from.Meta.Uid], dest.Info.Name);
            }
            else await mail.Grain.Copy(mail.View.Folder(copies[0].FolderId)!.Info.Name, [copies[0].Meta.Uid], dest.Info.Name);
        }
        foreach (var c in toRemove) await RemoveCopyAsync(mail, c);
        await mail.RefreshAsync();
    }

    /// <summary>Removes one copy as IMAP does: \Deleted, then EXPUNGE of that UID only.</summary>
    private static async Task RemoveCopyAsync(MailSession mail, EmailCopy c)
    {
        if (mail.View.Folder(c.FolderId) is not { } f) return;
        await mail.Grain.StoreFlags(f.Info.Name, [c.Meta.Uid], new FlagChange(FlagChangeMode.Add, MessageFlags.Deleted, []));
        await mail.Grain.Expunge(f.Info.Name, [c.Meta.Uid]);
    }

    /// <summary>A draft's MIME from JMAP properties (RFC 8621 4.6: create), via MimeKit.</summary>
    private async Task<byte[]> BuildMessageAsync(JsonObject props, JmapCall call, MailSession mail)
    {
        var allowed = new HashSet<string> { "mailboxIds", "keywords", "receivedAt", "messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments" };
        foreach (var (k, _) in props)
            if (!allowed.Contains(k) && !k.StartsWith("header:", StringComparison.Ordinal)) throw Invalid(k);
        var m = new MimeMessage();
        void Addresses(string prop, InternetAddressList list)
        {
            if (props[prop] is null) return;
            if (props[prop] is not JsonArray arr) throw Invalid(prop);
            foreach (var a in arr)
            {
                if (a is not JsonObject ao || ao["email"] is not JsonValue ev || !ev.TryGetValue<string>(out var email) || !MailboxAddress.TryParse(email, out var parsed)) throw Invalid(prop);
                parsed.Name = (string?)ao["name"];
                list.Add(parsed);
            }
        }
        Addresses("from", m.From);
        Addresses("to", m.To);
        Addresses("cc", m.Cc);
        Addresses("bcc", m.Bcc);
        Addresses("replyTo", m.ReplyTo);
        if (props["sender"] is JsonArray { Count: > 0 })
        {
            var s = new InternetAddressList();
            Addresses("sender", s);
            m.Sender = s.Mailboxes.First();
        }
        if (props["subject"] is JsonValue sv && sv.TryGetValue<string>(out var subject)) m.Subject = subject;
        else if (props["subject"] is not null) throw Invalid("subject");
        m.Date = props["sentAt"] is JsonValue dv && DateTimeOffset.TryParse((string?)dv, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var sent) ? sent : DateTimeOffset.UtcNow;
        m.MessageId = (props["messageId"] is JsonArray { Count: 1 } mid ? (string?)mid[0] : null) ?? MimeKit.Utils.MimeUtils.GenerateMessageId(m.From.Mailboxes.FirstOrDefault()?.Domain ?? "grainmail.invalid");
        if (props["inReplyTo"] is JsonArray irt && irt.Count > 0) m.InReplyTo = (string?)irt[0];
        if (props["references"] is JsonArray refs) foreach (var r in refs) m.References.Add((string)r!);
        foreach (var (k, v) in props)
        {
            if (!k.StartsWith("header:", StringComparison.Ordinal)) continue;
            if (EmailReader.ParseHeaderProperty(k) is not (var name, var form, _) || form is not ("asText" or "asRaw") || v is not JsonValue hv || !hv.TryGetValue<string>(out var text)) throw Invalid(k);
            m.Headers.Add(name, text);
        }
        var values = props["bodyValues"] as JsonObject ?? [];
        MimeEntity? TextPartOf(string prop, string subtype)
        {
            if (props[prop] is not JsonArray { Count: > 0 } parts) return null;
            if (parts.Count != 1 || parts[0] is not JsonObject p || (string?)p["partId"] is not { } partId || values[partId] is not JsonObject bv || (string?)bv["value"] is not { } value)
                throw Invalid(prop, "One part whose partId is in bodyValues");
            return new TextPart(subtype) { Text = value };
        }
        var textPart = TextPartOf("textBody", "plain");
        var htmlPart = TextPartOf("htmlBody", "html");
        MimeEntity body = (textPart, htmlPart) switch
        {
            ({ } t, { } h) => new MultipartAlternative { t, h },
            ({ } t, null) => t,
            (null, { } h) => h,
            _ => new TextPart("plain") { Text = "" },
        };
        if (props["attachments"] is JsonArray attachments && attachments.Count > 0)
        {
            var mixed = new Multipart("mixed") { body };
            foreach (var a in attachments)
            {
                if (a is not JsonObject ao || (string?)ao["blobId"] is not { } blobId) throw Invalid("attachments");
                var data = (await blobs.ResolveAsync(StandardMethods.ResolveCreated(call, blobId) ?? blobId, mail.Account.Id, mail.View))?.Data
                    ?? throw new SetError(StandardMethods.SetError("blobNotFound").Also("notFound", blobId));
                var type = (string?)ao["type"] ?? "application/octet-stream";
                var part = new MimePart(ContentType.Parse(type))
                {
                    Content = new MimeContent(new MemoryStream(data)),
                    ContentTransferEncoding = ContentEncoding.Base64,
                    ContentDisposition = new ContentDisposition((string?)ao["disposition"] == "inline" ? ContentDisposition.Inline : ContentDisposition.Attachment),
                };
                if ((string?)ao["name"] is { } fileName) part.FileName = fileName;
                if ((string?)ao["cid"] is { } cid) part.ContentId = cid;
                mixed.Add(part);
            }
            body = mixed;
        }
        m.Body = body;
        using var ms = new MemoryStream();
        // CRLF whatever the platform (MimeKit's default is the machine's own line end, LF here): RFC 5322 2.3 text.
        m.WriteTo(new FormatOptions { NewLineFormat = NewLineFormat.Dos }, ms);
        return ms.ToArray();
    }

    private async Task<JsonObject> ImportAsync(JmapCall call)
    {
        using var mail = await access.OpenAsync(call, write: true);
        var oldState = mail.View.State;
        StandardMethods.CheckIfInState(call, oldState);
        var emails = Args.Object(call.Arguments, "emails") ?? throw Args.Invalid("'emails' is required");
        if (emails.Count > call.Request.Limits.MaxObjectsInSet) throw new JmapMethodException(JmapErrors.RequestTooLarge, "Too many emails");
        var created = new JsonObject();
        var notCreated = new JsonObject();
        foreach (var (cid, node) in emails)
        {
            try
            {
                if (node is not JsonObject props || (string?)props["blobId"] is not { } blobId) throw Invalid("blobId");
                var blob = await blobs.ResolveAsync(StandardMethods.ResolveCreated(call, blobId) ?? blobId, mail.Account.Id, mail.View)
                    ?? throw new SetError(StandardMethods.SetError("blobNotFound").Also("notFound", blobId));
                var (folders, flags, custom) = Placement(props, call, mail.View);
                DateTimeOffset? received = props["receivedAt"] is JsonValue rv && DateTimeOffset.TryParse((string?)rv, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null;
                // RFC 8621 4.8: a blob that is not a valid message is invalidEmail. Valid is what every other way in accepts
                // (SMTP DATA, IMAP APPEND): no NUL, a header section with a field and within the limits; line ends become CRLF.
                var (message, problem) = JmapMessageText.Read(blob.Data, TextLimits);
                if (message is null) throw new SetError(StandardMethods.SetError("invalidEmail", problem));
                var id = await AppendAsync(mail, folders, message.Raw, flags, custom, received);
                call.Request.CreatedIds[cid] = id;
                var copy = mail.View.Copies(id)[0];
                created[cid] = new JsonObject { ["id"] = id, ["blobId"] = "B" + id[1..], ["threadId"] = await store.ThreadIdAsync(copy), ["size"] = copy.Meta.Blob.Size };
            }
            catch (SetError e)
            {
                notCreated[cid] = e.Error;
            }
        }
        return new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldState"] = oldState,
            ["newState"] = mail.View.State,
            ["created"] = created.Count > 0 ? created : null,
            ["notCreated"] = notCreated.Count > 0 ? notCreated : null,
        };
    }

    private async Task<JsonObject> ParseAsync(JmapCall call)
    {
        var blobIds = Args.Strings(call.Arguments, "blobIds") ?? throw Args.Invalid("'blobIds' is required");
        if (blobIds.Count > call.Request.Limits.MaxObjectsInGet) throw new JmapMethodException(JmapErrors.RequestTooLarge, "Too many blobIds");
        var props = StandardMethods.Properties(call.Arguments, "properties",
            ["messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc", "replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues", "textBody", "htmlBody", "attachments"],
            p => KnownProperty(p) && p is not ("id" or "mailboxIds" or "keywords" or "receivedAt"));
        var bodyProps = StandardMethods.Properties(call.Arguments, "bodyProperties", EmailReader.DefaultBodyProperties, KnownBodyProperty);
        var fetchText = Args.Bool(call.Arguments, "fetchTextBodyValues", false);
        var fetchHtml = Args.Bool(call.Arguments, "fetchHTMLBodyValues", false);
        var fetchAll = Args.Bool(call.Arguments, "fetchAllBodyValues", false);
        var maxBytes = Args.Long(call.Arguments, "maxBodyValueBytes", unsigned: true) ?? 0;
        using var mail = await access.OpenAsync(call);
        var account = mail.Account;
        var parsed = new JsonObject();
        var notParsable = new JsonArray();
        var notFound = new JsonArray();
        foreach (var blobId in blobIds.Distinct())
        {
            var blob = await blobs.ResolveAsync(blobId, account.Id, mail.View);
            if (blob is null)
            {
                notFound.Add(blobId);
                continue;
            }
            EmailReader reader;
            try
            {
                reader = EmailReader.Parse(blob.Data, blobId);
            }
            catch (FormatException)
            {
                notParsable.Add(blobId);
                continue;
            }
            var o = new JsonObject();
            foreach (var p in props)
            {
                switch (p)
                {
                    case "blobId": o[p] = blobId; break;
                    case "size": o[p] = blob.Data.Length; break;
                    case "threadId": o[p] = null; break;
                    case "bodyStructure": o[p] = reader.BodyPart(reader.Root, [.. bodyProps, "subParts"]); break;
                    case "textBody": o[p] = new JsonArray(reader.TextBody.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "htmlBody": o[p] = new JsonArray(reader.HtmlBody.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "attachments": o[p] = new JsonArray(reader.Attachments.Select(x => (JsonNode)reader.BodyPart(x, bodyProps)).ToArray()); break;
                    case "bodyValues":
                        var values = new JsonObject();
                        var parts = (fetchAll ? reader.AllParts() : []).Concat(fetchText ? reader.TextBody : []).Concat(fetchHtml ? reader.HtmlBody : []);
                        foreach (var part in parts.Where(x => x.Entity is TextPart).DistinctBy(x => x.PartId)) values[part.PartId] = EmailReader.BodyValue(part, maxBytes);
                        o[p] = values;
                        break;
                    default:
                        if (reader.TryHeaderProperty(p, out var v)) o[p] = v;
                        break;
                }
            }
            parsed[blobId] = o;
        }
        return new JsonObject
        {
            ["accountId"] = account.Id,
            ["parsed"] = parsed.Count > 0 ? parsed : null,
            ["notParsable"] = notParsable.Count > 0 ? notParsable : null,
            ["notFound"] = notFound.Count > 0 ? notFound : null,
        };
    }
}

internal static class SetErrorExtensions
{
    public static JsonObject Also(this JsonObject error, string key, string value)
    {
        error[key] = new JsonArray(value);
        return error;
    }
}
