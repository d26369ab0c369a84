using GrainMail.Gateways.Http.Audit;
using GrainMail.Gateways.Http.Webmail;
using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Sessions;

/// <summary>
/// How a single sign-on ticket reaches the webmail. The ticket travels in the URL fragment
/// (RFC 3986 §3.5: a fragment is not sent in a request), so neither the gateway's logs nor a
/// proxy's see it on the way in; the page posts it to /api/v1/sso and keeps the session token in
/// sessionStorage like its own login. Neither the ticket nor the token is ever written to the audit log.
/// </summary>
public static class SsoHandoff
{
    /// <summary>The fragment key the webmail reads on start.</summary>
    public const string FragmentKey = "sso";

    /// <summary>The webmail's path with the ticket in the fragment.</summary>
    public static string WebmailUrl(string ticket) => $"{WebmailEndpoints.Prefix}/#{FragmentKey}={Uri.EscapeDataString(ticket)}";

    /// <summary>
    /// A browser following a link asks for HTML and not for JSON (RFC 9110 §12.5.1); API clients ask
    /// for JSON or send no Accept at all, and keep getting the token as JSON.
    /// </summary>
    public static bool IsBrowserNavigation(HttpRequest request)
    {
        var accept = request.GetTypedHeaders().Accept;
        var html = false;
        foreach (var media in accept)
        {
            var type = media.MediaType.Value;
            if (string.Equals(type, "application/json", StringComparison.OrdinalIgnoreCase)
                || (type?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) ?? false))
                return false;
            if (string.Equals(type, "text/html", StringComparison.OrdinalIgnoreCase) && media.Quality is not 0.0) html = true;
        }
        return html;
    }

    /// <summary>
    /// The request's audit note: the action, the account signed in (null while unknown: a refused or
    /// handed-on ticket), and the path and route without the ticket, which may still be unspent.
    /// </summary>
    public static AuditNote Note(HttpContext http, string action, string? account)
    {
        var note = AuditNote.Of(http);
        note.Action = action;
        note.Target = account ?? "-";
        if (account is not null)
        {
            note.Actor = account;
            note.ActorRole = "user";
        }
        note.Detail["path"] = $"{AdminApi.Prefix}/sso";
        note.Detail["route"] = null;
        return note;
    }
}
