using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Sieve;
using GrainMail.Gateways.Common.Audit;
using GrainMail.Gateways.Jmap.Mail;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using GrainMail.Gateways.Jmap.Submission;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Jmap.Vacation;

/// <summary>
/// VacationResponse (RFC 8621 8): the singleton, stored as the account's "jmap-vacation" Sieve script
/// (<see cref="VacationScript"/>) through the same <see cref="ISieveGrain"/> as ManageSieve, and run at
/// delivery before the active script. So a JMAP vacation behaves as a ManageSieve one: once per sender
/// per period, from the null reverse path, never to lists or automatic mail.
/// </summary>
public sealed class VacationMethods(IGrainFactory grains, IdentityMethods identities, ILogger<VacationMethods> logger) : IJmapMethods
{
    public const string Uri = "urn:ietf:params:jmap:vacationresponse";
    private const string SingletonId = "singleton";

    private static readonly string[] AllProperties = ["id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody"];

    public string Capability => Uri;

    // RFC 8621 1.3.3: both capability objects are empty.
    public JsonObject SessionCapability(JmapLimits limits) => [];

    public JsonObject AccountCapability(JmapAccount account) => [];

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods => new Dictionary<string, JmapMethodHandler>
    {
        ["VacationResponse/get"] = GetAsync,
        ["VacationResponse/set"] = SetAsync,
    };

    /// <summary>The state: a hash of the script (or of its absence), so it changes exactly when the stored vacation does.</summary>
    private static string StateOf(string? script) =>
        script is null ? "v0" : "v" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(script)).AsSpan(0, 8));

    private async Task<JsonObject> GetAsync(JmapCall call)
    {
        var account = call.Account(Uri);
        var ids = StandardMethods.Ids(call);
        var props = StandardMethods.Properties(call.Arguments, "properties", AllProperties, p => AllProperties.Contains(p));
        var script = await grains.GetGrain<ISieveGrain>(account.Address).Get(JmapVacationScript.Name);
        var settings = VacationScript.Read(script).ToJson();
        var list = new JsonArray();
        var notFound = new JsonArray();
        foreach (var id in ids?.Distinct() ?? [SingletonId])
        {
            if (id != SingletonId)
            {
                notFound.Add(id);
                continue;
            }
            var o = new JsonObject { ["id"] = SingletonId };
            foreach (var p in props.Where(p => p != "id")) o[p] = settings[p]?.DeepClone();
            list.Add(o);
        }
        return new JsonObject { ["accountId"] = account.Id, ["state"] = StateOf(script), ["list"] = list, ["notFound"] = notFound };
    }

    private async Task<JsonObject> SetAsync(JmapCall call)
    {
        StandardMethods.CheckSetSize(call);
        var account = call.Account(Uri, write: true);
        var sieve = grains.GetGrain<ISieveGrain>(account.Address);
        var script = await sieve.Get(JmapVacationScript.Name);
        var oldState = StateOf(script);
        StandardMethods.CheckIfInState(call, oldState);
        var response = new SetResponse(account.Id, oldState);
        // RFC 8621 8.2: the one object can be neither created nor destroyed.
        foreach (var (cid, _) in Args.Object(call.Arguments, "create") ?? [])
            response.NotCreated(cid, StandardMethods.SetError("singleton", "There is exactly one VacationResponse; update it"));
        foreach (var id in Args.Strings(call.Arguments, "destroy") ?? [])
            response.NotDestroyed(id, StandardMethods.SetError("singleton", "There is exactly one VacationResponse; set isEnabled to false"));
        foreach (var (id, node) in Args.Object(call.Arguments, "update") ?? [])
        {
            if (id != SingletonId)
            {
                response.NotUpdated(id, StandardMethods.SetError("notFound"));
                continue;
            }
            if (node is not JsonObject patch)
            {
                response.NotUpdated(id, StandardMethods.SetError("invalidProperties", "Not an object"));
                continue;
            }
            var (next, bad) = Apply(VacationScript.Read(script), patch);
            if (bad.Count > 0)
            {
                response.NotUpdated(id, StandardMethods.SetError("invalidProperties", null, bad));
                continue;
            }
            var (known, _) = await identities.IdentitiesAsync(account);
            var aliases = known.Select(i => (string)i["email"]!).Where(a => !a.Equals(account.Address, StringComparison.OrdinalIgnoreCase)).ToList();
            var text = VacationScript.Generate(next!, aliases);
            var stored = await sieve.Put(JmapVacationScript.Name, text);
            // Audited as every other change to the user's scripts (ManageSieve, /api/v1/me/sieve).
            await SieveChangeAudit.RecordAsync(grains, logger, new SieveChange(call.Request.Username, account.Address, SieveChangeAudit.Jmap,
                call.Request.ClientIp, "sieve.put", JmapVacationScript.Name, stored.Status));
            if (stored.Status != SieveOpStatus.Ok)
            {
                response.NotUpdated(id, stored.Status is SieveOpStatus.TooLarge or SieveOpStatus.TooMany
                    ? StandardMethods.SetError("overQuota", stored.Reason)
                    : StandardMethods.SetError("invalidProperties", stored.Reason));
                continue;
            }
            script = text;
            response.Updated(id);
        }
        return response.Build(StateOf(script));
    }

    /// <summary>A PatchObject on the settings (RFC 8620 5.3); the names of the properties that were not acceptable.</summary>
    private static (VacationSettings? Settings, List<string> Bad) Apply(VacationSettings v, JsonObject patch)
    {
        var bad = new List<string>();
        string? Text(string name, JsonNode? value, bool date)
        {
            if (value is null) return null;
            if (value.GetValueKind() != JsonValueKind.String) { bad.Add(name); return null; }
            var s = value.GetValue<string>();
            if (!date) return s;
            var canonical = VacationScript.CanonicalDate(s);
            if (canonical is null) bad.Add(name);
            return canonical;
        }
        foreach (var (key, value) in patch)
        {
            switch (key)
            {
                case "id":
                    if ((string?)value != SingletonId) bad.Add(key);
                    break;
                case "isEnabled":
                    if (value?.GetValueKind() is JsonValueKind.True or JsonValueKind.False) v = v with { IsEnabled = value.GetValue<bool>() };
                    else bad.Add(key);
                    break;
                case "fromDate": v = v with { FromDate = Text(key, value, true) }; break;
                case "toDate": v = v with { ToDate = Text(key, value, true) }; break;
                case "subject": v = v with { Subject = Text(key, value, false) }; break;
                case "textBody": v = v with { TextBody = Text(key, value, false) }; break;
                case "htmlBody": v = v with { HtmlBody = Text(key, value, false) }; break;
                default: bad.Add(key); break;
            }
        }
        return (bad.Count > 0 ? null : v, bad);
    }
}
