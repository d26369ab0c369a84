using System.Globalization;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Mail;

public sealed partial class EmailMethods
{
    /// <summary>What a create of Email/copy may give besides "id" (RFC 8621 4.7: the rest is the original's).</summary>
    private static readonly HashSet<string> CopyOverrides = ["id", "mailboxIds", "keywords", "receivedAt"];

    /// <summary>
    /// Email/copy (RFC 8620 5.4, RFC 8621 4.7) between two accounts the user reaches: his own and the
    /// mailboxes delegated to him. Each copy is the original's message appended to the target's
    /// mailboxes, with its keywords and receivedAt unless the create overrides them. The target may not
    /// hold the same exact message twice through a copy (RFC 8621 4.7 lets a server forbid duplicates):
    /// a retried copy gets alreadyExists with the existing Email's id instead of a second one.
    /// onSuccessDestroyOriginal destroys the copied originals with an implicit Email/set on the source
    /// account, whose response follows this one (ifInState: destroyFromIfInState).
    /// </summary>
    private async Task<JsonObject> CopyAsync(JmapCall call)
    {
        var fromId = Args.String(call.Arguments, "fromAccountId", required: true)!;
        var target = call.Account(MailCapability.Uri, write: true);
        var source = call.Request.Accounts.FirstOrDefault(a => a.Id == fromId)
            ?? throw new JmapMethodException(JmapErrors.FromAccountNotFound, $"No account '{fromId}' for this user");
        if (fromId == target.Id) throw Args.Invalid("fromAccountId and accountId must differ (Email/set copies within an account)");
        var create = Args.Object(call.Arguments, "create") ?? throw Args.Invalid("'create' is required");
        if (create.Count > call.Request.Limits.MaxObjectsInSet)
            throw new JmapMethodException(JmapErrors.RequestTooLarge, $"More than maxObjectsInSet ({call.Request.Limits.MaxObjectsInSet}) objects");
        var destroyOriginal = Args.Bool(call.Arguments, "onSuccessDestroyOriginal", false);
        var destroyFromIfInState = Args.String(call.Arguments, "destroyFromIfInState");
        var ifFromInState = Args.String(call.Arguments, "ifFromInState");

        var created = new JsonObject();
        var notCreated = new JsonObject();
        var copied = new List<string>();
        string oldState, newState;
        // Both views are locked for the copy; always in account-id order, so two copies the other way round cannot deadlock.
        var firstIsSource = string.CompareOrdinal(source.Id, target.Id) < 0;
        using (var first = await access.OpenAsync(firstIsSource ? source : target, call.Request.Aborted))
        using (var second = await access.OpenAsync(firstIsSource ? target : source, call.Request.Aborted))
        {
            var from = firstIsSource ? first : second;
            var to = firstIsSource ? second : first;
            if (ifFromInState is not null && ifFromInState != from.View.State)
                throw new JmapMethodException(JmapErrors.StateMismatch, "The source account is not in ifFromInState");
            oldState = to.View.State;
            StandardMethods.CheckIfInState(call, oldState);
            foreach (var (cid, node) in create)
            {
                try
                {
                    var (id, result) = await CopyOneAsync(call, from, to, node);
                    call.Request.CreatedIds[cid] = (string)result["id"]!;
                    created[cid] = result;
                    copied.Add(id);
                }
                catch (SetError e)
                {
                    notCreated[cid] = e.Error;
                }
            }
            newState = to.View.State;
        }
        var response = new JsonObject
        {
            ["fromAccountId"] = source.Id,
            ["accountId"] = target.Id,
            ["oldState"] = oldState,
            ["newState"] = newState,
            ["created"] = created.Count > 0 ? created : null,
            ["notCreated"] = notCreated.Count > 0 ? notCreated : null,
        };
        if (destroyOriginal && copied.Count > 0) await DestroyOriginalsAsync(call, source, copied, destroyFromIfInState);
        return response;
    }

    /// <summary>One create of Email/copy: the original's id and the new Email's server-set properties.</summary>
    private async Task<(string OriginalId, JsonObject Created)> CopyOneAsync(JmapCall call, MailSession from, MailSession to, JsonNode? node)
    {
        if (node is not JsonObject props) throw new SetError(StandardMethods.SetError("invalidProperties", "Not an object"));
        var unknown = props.Select(p => p.Key).Where(k => !CopyOverrides.Contains(k)).ToList();
        if (unknown.Count > 0) throw new SetError(StandardMethods.SetError("invalidProperties", "Only id, mailboxIds, keywords and receivedAt can be given", unknown));
        if ((string?)props["id"] is not { } rawId) throw Invalid("id", "The id of the Email to copy");
        var originalId = StandardMethods.ResolveCreated(call, rawId) ?? rawId;
        var copies = from.View.Copies(originalId);
        if (copies.Count == 0) throw new SetError(StandardMethods.SetError("notFound", $"No Email '{rawId}' in the source account"));
        var original = copies[0];
        var (folders, flags, custom) = Placement(props, call, to.View);
        // The same exact message (same content hash) already in the target: a duplicate (RFC 8620 5.4 alreadyExists).
        foreach (var emailId in to.View.EmailIds)
        {
            var there = to.View.Copies(emailId);
            if (there.Count > 0 && there[0].Meta.Blob.Hash.AsSpan().SequenceEqual(original.Meta.Blob.Hash))
            {
                var exists = StandardMethods.SetError("alreadyExists", "The target account already has this message");
                exists["existingId"] = emailId;
                throw new SetError(exists);
            }
        }
        var loaded = await store.LoadAsync(original) ?? throw new SetError(StandardMethods.SetError("notFound", "The message is gone"));
        if (!props.ContainsKey("keywords"))
        {
            flags = original.Meta.Flags;
            custom = [.. original.Meta.Keywords];
        }
        var received = original.Meta.InternalDate;
        if (props.ContainsKey("receivedAt"))
        {
            if (props["receivedAt"] is not JsonValue rv || !DateTimeOffset.TryParse((string?)rv, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out received))
                throw Invalid("receivedAt", "A UTCDate");
        }
        var id = await AppendAsync(to, folders, loaded.Raw, flags, custom, received);
        var copy = to.View.Copies(id)[0];
        return (originalId, new JsonObject { ["id"] = id, ["blobId"] = "B" + id[1..], ["threadId"] = await store.ThreadIdAsync(copy), ["size"] = copy.Meta.Blob.Size });
    }

    /// <summary>onSuccessDestroyOriginal (RFC 8620 5.4): an Email/set destroying the copied originals, its response after Email/copy's.</summary>
    private static async Task DestroyOriginalsAsync(JmapCall call, JmapAccount source, List<string> ids, string? ifInState)
    {
        var args = new JsonObject { ["accountId"] = source.Id, ["destroy"] = StandardMethods.Array(ids.Distinct()) };
        if (ifInState is not null) args["ifInState"] = ifInState;
        await call.AddImplicitCallAsync("Email/set", args);
    }
}
