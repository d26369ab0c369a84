using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;

namespace GrainMail.Gateways.Jmap.Session;

/// <summary>The URL layout of the users' listener (docs: jmap-plan, fixed between the three JMAP parts).</summary>
public static class JmapPaths
{
    public const string WellKnown = "/.well-known/jmap";
    public const string Api = "/jmap/api";
    public const string UploadPrefix = "/jmap/upload/";
    public const string DownloadPrefix = "/jmap/download/";
    public const string Upload = "/jmap/upload/{accountId}/";
    public const string Download = "/jmap/download/{accountId}/{blobId}/{name}?accept={type}";
    public const string EventSource = "/jmap/eventsource?types={types}&closeafter={closeafter}&ping={ping}";
}

/// <summary>Builds the Session object (RFC 8620 2) from the registered capability families.</summary>
public static class SessionResource
{
    public static JsonObject Build(string username, IReadOnlyList<JmapAccount> accounts, IEnumerable<IJmapMethods> families, JmapLimits limits, string baseUrl)
    {
        var list = families.ToList();
        var capabilities = new JsonObject();
        foreach (var f in list)
        {
            if (f.SessionCapability(limits) is { } c && !capabilities.ContainsKey(f.Capability)) capabilities[f.Capability] = c;
        }
        foreach (var f in list)
            if (!capabilities.ContainsKey(f.Capability)) capabilities[f.Capability] = new JsonObject();
        // RFC 8887 4.1: the WebSocket capability's url is absolute (wss).
        if (capabilities[Push.WebSocketMessages.Capability] is JsonObject ws) ws["url"] = Push.PushEndpoints.WebSocketUrl(baseUrl);
        var accountsObj = new JsonObject();
        var primary = new JsonObject();
        foreach (var a in accounts)
        {
            var accountCaps = new JsonObject();
            foreach (var f in list)
                if (!accountCaps.ContainsKey(f.Capability) && f.AccountCapability(a) is { } ac)
                {
                    accountCaps[f.Capability] = ac;
                    if (a.IsPersonal && !primary.ContainsKey(f.Capability)) primary[f.Capability] = a.Id;
                }
            accountsObj[a.Id] = new JsonObject
            {
                ["name"] = a.Name,
                ["isPersonal"] = a.IsPersonal,
                ["isReadOnly"] = a.IsReadOnly,
                ["accountCapabilities"] = accountCaps,
            };
        }
        var session = new JsonObject
        {
            ["capabilities"] = capabilities,
            ["accounts"] = accountsObj,
            ["primaryAccounts"] = primary,
            ["username"] = username,
            ["apiUrl"] = baseUrl + JmapPaths.Api,
            ["downloadUrl"] = baseUrl + JmapPaths.Download,
            ["uploadUrl"] = baseUrl + JmapPaths.Upload,
            ["eventSourceUrl"] = baseUrl + JmapPaths.EventSource,
        };
        session["state"] = StateOf(session);
        return session;
    }

    /// <summary>The session's state: a hash of its content, so it changes exactly when the session does (RFC 8620 2).</summary>
    public static string StateOf(JsonObject sessionWithoutState) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sessionWithoutState.ToJsonString())).AsSpan(0, 8));
}
