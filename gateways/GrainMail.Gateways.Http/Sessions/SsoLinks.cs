using Microsoft.AspNetCore.Http;

namespace GrainMail.Gateways.Http.Sessions;

/// <summary>The gateway's HTTPS listener as sign-on links need it: its port, 0 when the process has none.</summary>
public sealed record SsoLinkOptions(int HttpsPort);

/// <summary>
/// Where a single sign-on link points. The webmail is served on the HTTPS listener only, and a
/// ticket is a credential, so a link handed to a browser is always HTTPS when the gateway has an
/// HTTPS listener: a call over HTTPS keeps its scheme and host (the name the integration used, a
/// proxy's included); a call over the plain admin listener gets the same host name on the HTTPS
/// listener's port. Only a process without an HTTPS listener answers with the call's own scheme.
/// </summary>
public static class SsoLinks
{
    public static string Origin(HttpRequest request, SsoLinkOptions? options)
    {
        if (request.IsHttps || options is not { HttpsPort: > 0 } https) return $"{request.Scheme}://{request.Host}";
        // HostString.Host keeps an IPv6 literal's brackets and drops the port.
        var host = request.Host.Host;
        return https.HttpsPort == 443 ? $"https://{host}" : $"https://{host}:{https.HttpsPort}";
    }
}
