using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Audit;

/// <summary>
/// What an endpoint adds to its own audit entry (the recorder writes it after the response):
/// a more precise action or target, and context such as before/after or the mailboxes touched.
/// </summary>
public sealed class AuditNote
{
    private const string ItemKey = "grainmail.audit-note";

    public string? Action { get; set; }
    public string? Target { get; set; }
    public string? Domain { get; set; }

    /// <summary>Who acted, when the endpoint itself established it (a single sign-on names its account); null: the caller.</summary>
    public string? Actor { get; set; }
    public string? ActorRole { get; set; }
    public JsonObject Detail { get; } = [];

    /// <summary>The note of this request (made on first use).</summary>
    public static AuditNote Of(HttpContext http)
    {
        if (http.Items.TryGetValue(ItemKey, out var n) && n is AuditNote note) return note;
        note = new AuditNote();
        http.Items[ItemKey] = note;
        return note;
    }

    public static AuditNote? Find(HttpContext http) => http.Items.TryGetValue(ItemKey, out var n) ? n as AuditNote : null;
}
