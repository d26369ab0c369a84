using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Methods;

/// <summary>Handles one method call; returns the response arguments (the response has the call's name).</summary>
public delegate Task<JsonObject> JmapMethodHandler(JmapCall call);

/// <summary>
/// A family of JMAP methods under one capability (RFC 8620 2: "capabilities"). The dispatcher knows
/// no method by name: each family is a DI singleton (<see cref="JmapMethodRegistration.AddJmapMethods{T}"/>)
/// and a new family is a new file plus one registration line, the dispatcher untouched. Several
/// families may share a capability (Mailbox, Email and Thread are all urn:ietf:params:jmap:mail).
/// </summary>
public interface IJmapMethods
{
    /// <summary>The capability URI a client names in "using" to call these methods.</summary>
    string Capability { get; }

    /// <summary>The capability's object in the session's "capabilities"; null leaves it to another family of the same capability.</summary>
    JsonObject? SessionCapability(JmapLimits limits);

    /// <summary>The capability's object in an account's "accountCapabilities"; null when the account does not have it.</summary>
    JsonObject? AccountCapability(JmapAccount account);

    /// <summary>Method name ("Mailbox/get") to handler.</summary>
    IReadOnlyDictionary<string, JmapMethodHandler> Methods { get; }
}

public static class JmapMethodRegistration
{
    public static IServiceCollection AddJmapMethods<T>(this IServiceCollection services) where T : class, IJmapMethods
    {
        services.AddSingleton<T>();
        services.AddSingleton<IJmapMethods>(sp => sp.GetRequiredService<T>());
        return services;
    }
}

/// <summary>A mail account visible to the authenticated user (RFC 8620 2: Account).</summary>
public sealed record JmapAccount(string Id, string Address, string Name, bool IsPersonal, bool IsReadOnly);

/// <summary>One request as its method handlers see it: who asks, the accounts, the request's created ids.</summary>
public sealed class JmapRequestContext(
    string username, IReadOnlyList<JmapAccount> accounts, IReadOnlySet<string> usedCapabilities, JmapLimits limits,
    Dictionary<string, string> createdIds, IServiceProvider services, CancellationToken aborted)
{
    public string Username => username;
    public IReadOnlyList<JmapAccount> Accounts => accounts;
    public IReadOnlySet<string> Using => usedCapabilities;
    public JmapLimits Limits => limits;

    /// <summary>Creation id to server id, for "#creationId" references across calls (RFC 8620 5.3).</summary>
    public Dictionary<string, string> CreatedIds => createdIds;

    public IServiceProvider Services => services;
    public CancellationToken Aborted => aborted;

    /// <summary>The client's address, for audit entries of changes a method makes.</summary>
    public string ClientIp { get; init; } = "";

    /// <summary>Where this request's time goes (the Server-Timing header of the answer).</summary>
    public JmapTimings Timings { get; } = new();
}

/// <summary>One method call being executed.</summary>
public sealed class JmapCall(string name, JsonObject arguments, string callId, JmapRequestContext request)
{
    private readonly List<(string Name, JsonObject Arguments)> _extra = [];

    public string Name => name;
    public JsonObject Arguments => arguments;
    public string CallId => callId;
    public JmapRequestContext Request => request;

    /// <summary>Responses a method adds after its own (e.g. the implicit Email/set of Email/copy, RFC 8621 4.7).</summary>
    public IReadOnlyList<(string Name, JsonObject Arguments)> ExtraResponses => _extra;

    public void AddResponse(string responseName, JsonObject responseArguments) => _extra.Add((responseName, responseArguments));

    /// <summary>
    /// Runs another method as part of this call and adds its response after this one's, as the implicit
    /// Email/set of Email/copy (RFC 8621 4.7) and of EmailSubmission/set's onSuccess arguments (RFC 8621
    /// 7.5) must: same call id, and a method-level error becomes an "error" response in its place.
    /// </summary>
    public async Task AddImplicitCallAsync(string method, JsonObject methodArguments)
    {
        var handler = request.Services.GetServices<IJmapMethods>().SelectMany(f => f.Methods).First(m => m.Key == method).Value;
        try
        {
            AddResponse(method, await handler(new JmapCall(method, methodArguments, callId, request)));
        }
        catch (JmapMethodException e)
        {
            var error = new JsonObject { ["type"] = e.Type };
            if (e.Description is not null) error["description"] = e.Description;
            AddResponse("error", error);
        }
    }

    /// <summary>
    /// The account named by the "accountId" argument; accountNotFound when the user has no such
    /// account, accountNotSupportedByMethod when it lacks the method's capability.
    /// </summary>
    public JmapAccount Account(string capability, bool write = false)
    {
        var id = Args.String(arguments, "accountId", required: true)!;
        var account = request.Accounts.FirstOrDefault(a => a.Id == id)
            ?? throw new JmapMethodException(JmapErrors.AccountNotFound, $"No account '{id}' for this user");
        var family = request.Services.GetServices<IJmapMethods>().FirstOrDefault(f => f.Capability == capability && f.AccountCapability(account) is not null);
        if (family is null) throw new JmapMethodException(JmapErrors.AccountNotSupportedByMethod, $"Account '{id}' does not support {capability}");
        if (write && account.IsReadOnly) throw new JmapMethodException(JmapErrors.AccountReadOnly, $"Account '{id}' is read-only");
        return account;
    }
}
