using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Health;

/// <summary>The open endpoints: liveness, readiness, and the MTA-STS policy file.</summary>
public static class HealthEndpoints
{
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        var open = app.MapGroup("").WithTags("Health").AllowAnonymous();
        open.MapGet("/healthz", () => TypedResults.Text("ok\n"));
        open.MapGet("/readyz", async (IReadinessCheck check, CancellationToken ct) =>
        {
            var (ready, detail) = await check.CheckAsync(ct);
            return ready ? TypedResults.Text("ready\n") : TypedResults.Text(detail + "\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });

        // MTA-STS policy (RFC 8461 3.2), served for https://mta-sts.<domain>/ by whatever terminates
        // TLS in front of this listener: "testing" until the operator has checked the records.
        open.MapGet("/.well-known/mta-sts.txt", async (HttpContext http, IGrainFactory grains) =>
        {
            var host = http.Request.Host.Host;
            var domain = host.StartsWith("mta-sts.", StringComparison.OrdinalIgnoreCase) ? MailAddress.NormalizeDomain(host[8..]) : null;
            var records = domain is null ? null : await grains.GetGrain<IDomainGrain>(domain).GetDnsRecords();
            if (records is null) return Results.NotFound();
            var mx = records.First(r => r.Type == "MX").Value.Split(' ')[1].TrimEnd('.');
            return Results.Text($"version: STSv1\nmode: testing\nmx: {mx}\nmax_age: 86400\n", "text/plain");
        }).ExcludeFromDescription();
    }
}
