using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Tls;
using GrainMail.Gateways.Common.Tls;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Http.Certificates;

/// <param name="CertificatePem">The chain: the domain's certificate first, then each issuer (the root may be left out).</param>
/// <param name="KeyPem">The certificate's private key, unencrypted (PKCS#8, RSA or EC PEM).</param>
public sealed record CertificateUploadRequest(string? CertificatePem, string? KeyPem);

public sealed record CertificateResponse(string Domain, string Subject, IReadOnlyList<string> Names, DateTimeOffset NotBefore,
    DateTimeOffset NotAfter, string Sha256, DateTimeOffset UploadedAt, int ChainLength)
{
    public static CertificateResponse From(DomainCertificateInfo i) =>
        new(i.Domain, i.Subject, i.Names, i.NotBefore, i.NotAfter, i.Sha256, i.UploadedAt, i.ChainLength);
}

/// <summary>
/// A mail domain's own TLS certificate (seed 4.2.19): uploaded here, stored on the silos with the key
/// sealed under the master key, and presented by every TLS listener to clients that ask for a name
/// in the domain (SNI). Changes are audited by the audit middleware like every admin write.
/// </summary>
public static class CertificateEndpoints
{
    public static void MapCertificates(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/certificate").WithTags("TLS certificates");
        g.MapGet("", Get).Reads(ScopeResource.Domain);
        g.MapPut("", Put).Writes(ScopeResource.Domain);
        g.MapDelete("", Delete).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Ok<CertificateResponse>, ProblemHttpResult>> Get(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var info = await grains.GetGrain<IDomainCertificateGrain>(0).Get(name);
        return info is null ? ApiProblem.NotFound("No certificate", $"{name} uses the node's default certificate") : TypedResults.Ok(CertificateResponse.From(info));
    }

    private static async Task<Results<Ok<CertificateResponse>, ProblemHttpResult>> Put(
        string domain, CertificateUploadRequest? body, IGrainFactory grains, HttpContext http, TimeProvider clock)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (await grains.GetGrain<IDomainGrain>(name).GetInfo() is null) return ApiProblem.NoSuchDomain(name);
        var check = CertificateUpload.Check(name, body?.CertificatePem, body?.KeyPem, clock.GetUtcNow());
        if (!check.Ok) return ApiProblem.BadRequest("Certificate refused", check.Error);
        var stored = await grains.GetGrain<IDomainCertificateGrain>(0).Put(new DomainCertificate(name, body!.CertificatePem!, body.KeyPem!), check.Info!);
        await RefreshHereAsync(http);
        return TypedResults.Ok(CertificateResponse.From(stored));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (!await grains.GetGrain<IDomainCertificateGrain>(0).Delete(name)) return ApiProblem.NotFound("No certificate", name);
        await RefreshHereAsync(http);
        return TypedResults.NoContent();
    }

    // This process's listeners take the change at once; other gateway processes within their refresh interval.
    private static async Task RefreshHereAsync(HttpContext http)
    {
        if (http.RequestServices.GetService<DomainCertificates>() is { } certificates) await certificates.RefreshAsync(force: true);
    }
}
