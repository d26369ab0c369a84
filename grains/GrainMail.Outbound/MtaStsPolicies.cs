using GrainMail.Dns;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace GrainMail.Outbound;

/// <summary>An MTA-STS policy (RFC 8461 3.2) as fetched, with when it stops being valid.</summary>
public sealed record MtaStsPolicy(string Id, string Mode, IReadOnlyList<string> Mx, DateTimeOffset Expires)
{
    public bool Enforce => Mode.Equals("enforce", StringComparison.OrdinalIgnoreCase);

    /// <summary>RFC 8461 4.1: exact names, or "*." matching exactly one leftmost label.</summary>
    public bool Matches(string host)
    {
        host = host.TrimEnd('.');
        foreach (var pattern in Mx)
        {
            if (pattern.StartsWith("*.", StringComparison.Ordinal))
            {
                var dot = host.IndexOf('.');
                if (dot > 0 && host[(dot + 1)..].Equals(pattern[2..], StringComparison.OrdinalIgnoreCase)) return true;
            }
            else if (host.Equals(pattern, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    public static MtaStsPolicy? Parse(string id, string text, DateTimeOffset now)
    {
        string? version = null, mode = null;
        long maxAge = -1;
        var mx = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "version": version = value; break;
                case "mode": mode = value; break;
                case "mx": mx.Add(value.ToLowerInvariant()); break;
                case "max_age": _ = long.TryParse(value, out maxAge); break;
            }
        }
        if (version != "STSv1" || mode is not ("enforce" or "testing" or "none") || maxAge < 0 || (mode != "none" && mx.Count == 0)) return null;
        return new MtaStsPolicy(id, mode, mx, now.AddSeconds(Math.Min(maxAge, 31557600)));
    }
}

/// <summary>
/// The sending side of MTA-STS (RFC 8461): the <c>_mta-sts</c> TXT record says whether a
/// destination has a policy and its id; the policy is fetched over HTTPS from
/// <c>mta-sts.&lt;domain&gt;</c> (certificate checked, no redirects, 64 KiB at most) and cached
/// until max_age, re-fetched when the id changes. A cached policy outlives a missing TXT record.
/// </summary>
public sealed class MtaStsPolicies(OutboundOptions options, MailDns dns, CertificateTrust trust, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, MtaStsPolicy> _cache = new(StringComparer.OrdinalIgnoreCase);

    public async Task<MtaStsPolicy?> GetAsync(string domain, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        _cache.TryGetValue(domain, out var cached);
        if (cached is not null && cached.Expires <= now)
        {
            _cache.TryRemove(domain, out _);
            cached = null;
        }
        string? id = null;
        try
        {
            var record = (await dns.TxtAsync($"_mta-sts.{domain}", ct)).FirstOrDefault(t => t.StartsWith("v=STSv1", StringComparison.Ordinal));
            id = record?.Split(';').Select(p => p.Trim()).FirstOrDefault(p => p.StartsWith("id=", StringComparison.Ordinal))?[3..];
        }
        catch (Exception e) when (e is DnsClient.DnsResponseException or SocketException or TimeoutException)
        {
            return cached;
        }
        if (id is null || (cached is not null && cached.Id == id)) return cached;
        var fetched = await FetchAsync(domain, id, ct);
        if (fetched is null) return cached;
        _cache[domain] = fetched;
        return fetched;
    }

    private async Task<MtaStsPolicy?> FetchAsync(string domain, string id, CancellationToken ct)
    {
        var host = $"mta-sts.{domain}";
        using var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // Names are resolved with the same resolvers as MX lookups.
            ConnectCallback = async (context, token) =>
            {
                var addresses = await dns.AddressesAsync(context.DnsEndPoint.Host, token);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(addresses, options.MtaStsHttpsPort, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => trust.IsValidFor(cert, host),
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20), MaxResponseContentBufferSize = 64 * 1024 };
        try
        {
            using var response = await http.GetAsync($"https://{host}/.well-known/mta-sts.txt", ct);
            if (response.StatusCode != HttpStatusCode.OK || response.Content.Headers.ContentType?.MediaType != "text/plain") return null;
            return MtaStsPolicy.Parse(id, await response.Content.ReadAsStringAsync(ct), clock.GetUtcNow());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }
}

/// <summary>
/// Certificate checks where they are required (MTA-STS policies and MX hosts under an enforced
/// policy): a chain to the system's roots or to configured extra CAs, and the host's name.
/// </summary>
public sealed class CertificateTrust(OutboundOptions options)
{
    private readonly X509Certificate2Collection _extra = Load(options.TrustedCaPem);

    private static X509Certificate2Collection Load(string? path)
    {
        var c = new X509Certificate2Collection();
        if (!string.IsNullOrEmpty(path)) c.ImportFromPemFile(path);
        return c;
    }

    public bool IsValidFor(X509Certificate? certificate, string host)
    {
        if (certificate is null) return false;
        using var cert = new X509Certificate2(certificate);
        if (!cert.MatchesHostname(host)) return false;
        if (Builds(cert, custom: false)) return true;
        return _extra.Count > 0 && Builds(cert, custom: true);
    }

    private bool Builds(X509Certificate2 cert, bool custom)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (custom)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_extra);
        }
        return chain.Build(cert);
    }
}
