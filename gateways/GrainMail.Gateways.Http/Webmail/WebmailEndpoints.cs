using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;

namespace GrainMail.Gateways.Http.Webmail;

/// <summary>
/// The webmail's built files (webmail/dist, made by Vite) at <c>/mail/</c>, on the users' HTTPS
/// listener only: the app sends passwords and bearer tokens, which never travel in clear. Files
/// under assets/ carry a content hash in their names and are cached for a year; everything else,
/// index.html first, is revalidated. A path without a file extension is a client route and gets
/// index.html, so a reload of /mail/inbox/… shows the app.
/// </summary>
public static class WebmailEndpoints
{
    public const string Prefix = "/mail";

    /// <summary>
    /// The page's Content-Security-Policy. Scripts, styles and connections from this origin only:
    /// no inline script, no eval, no CDN. Inline style stays allowed because sanitised mail keeps
    /// its style attributes (the mail's frame inherits this policy and narrows it with its own).
    /// Images may be remote because the user can allow a sender's images; until then the message
    /// frame's own policy (img-src data: blob:) and the sanitiser keep them from loading.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; " +
        "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-src 'self' blob:; media-src 'self' blob:; " +
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; manifest-src 'self'";

    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    /// <summary>Maps /mail and /mail/{path}; <paramref name="root"/> null means the webmail was not built.</summary>
    public static IEndpointRouteBuilder MapWebmail(this IEndpointRouteBuilder app, string? root)
    {
        // Routing matches /mail and /mail/ alike: only the first is sent on to the folder.
        app.MapGet(Prefix, (HttpContext http) => http.Request.Path.Value?.EndsWith('/') == true ? Serve(http, root, "")
            : http.Request.IsHttps ? Results.Redirect(Prefix + "/") : Results.NotFound()).AllowAnonymous().ExcludeFromDescription();
        app.MapGet(Prefix + "/{**path}", (HttpContext http, string? path) => Serve(http, root, path ?? "")).AllowAnonymous().ExcludeFromDescription(); // static files, not API: kept out of the OpenAPI document
        return app;
    }

    private static IResult Serve(HttpContext http, string? root, string path)
    {
        if (!http.Request.IsHttps) return Results.NotFound();
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        if (root is null)
        {
            headers.CacheControl = "no-store";
            return Results.Text("The webmail is not built: run `npm ci && npm run build` in webmail/ (./grainmail run does it).",
                "text/plain; charset=utf-8", statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        var file = WebmailFiles.Resolve(root, path);
        if (file is null)
        {
            // A name with an extension is a file that is not there; anything else is the app's own route.
            if (Path.HasExtension(path)) return Results.NotFound();
            file = Path.Combine(root, "index.html");
        }
        var immutable = path.StartsWith("assets/", StringComparison.Ordinal);
        headers.CacheControl = immutable ? "public, max-age=31536000, immutable" : "no-cache";
        if (!ContentTypes.TryGetContentType(file, out var type)) type = "application/octet-stream";
        if (type.StartsWith("text/", StringComparison.Ordinal) || type is "application/javascript" or "text/javascript")
            type += "; charset=utf-8";
        return Results.File(file, type, enableRangeProcessing: true);
    }
}
