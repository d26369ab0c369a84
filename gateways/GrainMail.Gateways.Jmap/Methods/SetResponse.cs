using System.Text.Json.Nodes;

namespace GrainMail.Gateways.Jmap.Methods;

/// <summary>
/// The response of a Foo/set (RFC 8620 5.3), collected while the method runs: one per call. The
/// six maps are null in the response when empty, as the RFC allows, and the states frame them.
/// Every /set of the gateway (Mailbox, Email, EmailSubmission, VacationResponse) builds its answer here.
/// </summary>
public sealed class SetResponse(string accountId, string? oldState)
{
    private readonly JsonObject _created = [];
    private readonly JsonObject _updated = [];
    private readonly JsonArray _destroyed = [];
    private readonly JsonObject _notCreated = [];
    private readonly JsonObject _notUpdated = [];
    private readonly JsonObject _notDestroyed = [];

    public void Created(string creationId, JsonObject serverSet) => _created[creationId] = serverSet;

    /// <summary>An update done; <paramref name="serverChanged"/> holds properties the server changed beyond the patch (null: none).</summary>
    public void Updated(string id, JsonObject? serverChanged = null) => _updated[id] = serverChanged;

    public void Destroyed(string id) => _destroyed.Add(id);

    public void NotCreated(string creationId, JsonObject error) => _notCreated[creationId] = error;

    public void NotUpdated(string id, JsonObject error) => _notUpdated[id] = error;

    public void NotDestroyed(string id, JsonObject error) => _notDestroyed[id] = error;

    /// <summary>Whether an object of that creation id was created by this call.</summary>
    public bool WasCreated(string creationId) => _created.ContainsKey(creationId);

    public bool WasUpdated(string id) => _updated.ContainsKey(id);

    public bool WasDestroyed(string id) => _destroyed.Any(d => (string?)d == id);

    /// <summary>The response arguments, with the state after the changes.</summary>
    public JsonObject Build(string newState) => new()
    {
        ["accountId"] = accountId,
        ["oldState"] = oldState,
        ["newState"] = newState,
        ["created"] = _created.Count > 0 ? _created : null,
        ["updated"] = _updated.Count > 0 ? _updated : null,
        ["destroyed"] = _destroyed.Count > 0 ? _destroyed : null,
        ["notCreated"] = _notCreated.Count > 0 ? _notCreated : null,
        ["notUpdated"] = _notUpdated.Count > 0 ? _notUpdated : null,
        ["notDestroyed"] = _notDestroyed.Count > 0 ? _notDestroyed : null,
    };
}
