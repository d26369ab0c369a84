using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>Thread/get and Thread/changes (RFC 8621 3): threads by IMAP's THREADID, Emails oldest first.</summary>
public sealed partial class EmailMethods
{
    private async Task<JsonObject> ThreadGetAsync(JmapCall call)
    {
        var ids = StandardMethods.Ids(call) ?? throw new JmapMethodException(JmapErrors.RequestTooLarge, "Name the threads to get");
        using var mail = await access.OpenAsync(call);
        var view = mail.View;
        // With every thread id stored, a thread's Emails come from the view's index: no other thread is looked at.
        var threads = view.ThreadsStored ? null : await FilterContext.ThreadsAsync(store, view);
        var list = new JsonArray();
        var notFound = new JsonArray();
        foreach (var id in ids.Distinct())
        {
            var members = threads is null
                ? view.ThreadMembers(id)?.Select(e => new EmailCandidate(e, view.Copies(e))).Where(c => c.Copies.Count > 0).ToList()
                : threads.GetValueOrDefault(id);
            if (members is not { Count: > 0 })
            {
                notFound.Add(id);
                continue;
            }
            var emailIds = members.OrderBy(m => m.First.Meta.InternalDate).ThenBy(m => m.EmailId, StringComparer.Ordinal).Select(m => m.EmailId);
            list.Add(new JsonObject { ["id"] = id, ["emailIds"] = StandardMethods.Array(emailIds) });
        }
        return new JsonObject { ["accountId"] = mail.Account.Id, ["state"] = mail.View.State, ["list"] = list, ["notFound"] = notFound };
    }

    private async Task<JsonObject> ThreadChangesAsync(JmapCall call)
    {
        var since = Args.String(call.Arguments, "sinceState", required: true)!;
        var max = Args.Long(call.Arguments, "maxChanges", unsigned: true);
        if (max == 0) throw Args.Invalid("'maxChanges' must be positive");
        using var mail = await access.OpenAsync(call);
        // Each changed thread has a changed Email, so the Email budget bounds the thread count too.
        var diff = await EmailChanges.ComputeAsync(mail, access.History, since, max);
        var (created, updated, destroyed) = (diff.Created, diff.Updated, diff.Destroyed);
        var threads = await FilterContext.ThreadsAsync(store, mail.View);
        var changedThreads = new HashSet<string>(StringComparer.Ordinal);
        var goneThreads = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in created.Concat(updated))
            if (mail.View.Copies(id) is { Count: > 0 } copies) changedThreads.Add(await store.ThreadIdAsync(copies[0]));
        foreach (var id in destroyed)
        {
            // The thread of an Email that is gone: the removal record keeps it (migration 0051); only removals older than
            // that, of a message never read here, leave it unknown.
            var t = diff.ThreadOfRemoved(id, store.Threads) ?? throw new JmapMethodException(JmapErrors.CannotCalculateChanges, "A removed Email's thread is not known to this server");
            if (threads.ContainsKey(t)) changedThreads.Add(t);
            else goneThreads.Add(t);
        }
        // A thread whose Emails are all new is created; one that had Emails before is updated.
        var newThreads = changedThreads.Where(t => threads[t].All(m => created.Contains(m.EmailId))).ToList();
        var updatedThreads = changedThreads.Except(newThreads).ToList();
        return new JsonObject
        {
            ["accountId"] = mail.Account.Id,
            ["oldState"] = since,
            ["newState"] = diff.NewState,
            ["hasMoreChanges"] = diff.HasMore,
            ["created"] = StandardMethods.Array(newThreads),
            ["updated"] = StandardMethods.Array(updatedThreads),
            ["destroyed"] = StandardMethods.Array(goneThreads),
        };
    }
}
