using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>What every mail method starts with: the account, its mailbox grain and its view brought up to date.</summary>
public sealed class MailAccess(IGrainFactory grains, MailViews views)
{
    /// <summary>The expunge record of every mailbox (for /changes from states this gateway never saw).</summary>
    public IMailboxHistoryGrain History => grains.GetGrain<IMailboxHistoryGrain>(0);

    public async Task<MailSession> OpenAsync(JmapCall call, bool write = false)
    {
        var account = call.Account(MailCapability.Uri, write);
        return await OpenAsync(account, call.Request.Aborted);
    }

    /// <summary>An account the caller already checked (Email/copy's fromAccountId).</summary>
    public async Task<MailSession> OpenAsync(JmapAccount account, CancellationToken ct)
    {
        var grain = grains.GetGrain<IMailboxGrain>(account.Address);
        var view = views.Of(account.Address);
        var held = await view.LockAsync(ct);
        try
        {
            await view.RefreshAsync(grain);
        }
        catch
        {
            held.Dispose();
            throw;
        }
        return new MailSession(account, grain, view, held);
    }
}

/// <summary>An account's mailbox for the length of one method call (the view is locked meanwhile).</summary>
public sealed class MailSession(JmapAccount account, IMailboxGrain grain, MailView view, IDisposable held) : IDisposable
{
    public JmapAccount Account => account;
    public IMailboxGrain Grain => grain;
    public MailView View => view;

    public Task RefreshAsync() => view.RefreshAsync(grain);

    public void Dispose() => held.Dispose();
}

/// <summary>Pieces the /get, /set and /changes methods of every type share (RFC 8620 5).</summary>
public static class StandardMethods
{
    /// <summary>The "ids" of a /get: null means all; over maxObjectsInGet is requestTooLarge.</summary>
    public static List<string>? Ids(JmapCall call)
    {
        var ids = Args.Strings(call.Arguments, "ids");
        if (ids is not null && ids.Count > call.Request.Limits.MaxObjectsInGet)
            throw new JmapMethodException(JmapErrors.RequestTooLarge, $"More than maxObjectsInGet ({call.Request.Limits.MaxObjectsInGet}) ids");
        return ids;
    }

    /// <summary>The "properties" of a /get: the default when null; an unknown one is invalidArguments.</summary>
    public static List<string> Properties(JsonObject args, string name, IReadOnlyCollection<string> defaults, Func<string, bool> known)
    {
        var props = Args.Strings(args, name);
        if (props is null) return [.. defaults];
        foreach (var p in props)
            if (!known(p)) throw Args.Invalid($"Unknown property '{p}' in '{name}'");
        return props;
    }

    public static JsonArray Array(IEnumerable<string> items) => new(items.Select(i => (JsonNode)i).ToArray());

    public static JsonObject SetError(string type, string? description = null, IEnumerable<string>? properties = null)
    {
        var e = new JsonObject { ["type"] = type };
        if (description is not null) e["description"] = description;
        if (properties is not null) e["properties"] = Array(properties);
        return e;
    }

    /// <summary>Counts the entries of create, update and destroy together against maxObjectsInSet (RFC 8620 5.3).</summary>
    public static void CheckSetSize(JmapCall call)
    {
        var n = (Args.Object(call.Arguments, "create")?.Count ?? 0) + (Args.Object(call.Arguments, "update")?.Count ?? 0) + (Args.Strings(call.Arguments, "destroy")?.Count ?? 0);
        if (n > call.Request.Limits.MaxObjectsInSet)
            throw new JmapMethodException(JmapErrors.RequestTooLarge, $"More than maxObjectsInSet ({call.Request.Limits.MaxObjectsInSet}) objects");
    }

    /// <summary>ifInState (RFC 8620 5.3): stateMismatch when the account moved on.</summary>
    public static void CheckIfInState(JmapCall call, string state)
    {
        if (Args.String(call.Arguments, "ifInState") is { } expected && expected != state)
            throw new JmapMethodException(JmapErrors.StateMismatch, "The state is not ifInState");
    }

    /// <summary>A "#creationId" reference of this request resolved to its id (RFC 8620 5.3), other ids unchanged.</summary>
    public static string? ResolveCreated(JmapCall call, string id) =>
        id.StartsWith('#') ? call.Request.CreatedIds.GetValueOrDefault(id[1..]) : id;
}
