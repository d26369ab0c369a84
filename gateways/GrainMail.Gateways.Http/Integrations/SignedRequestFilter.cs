using GrainMail.Contracts.Admin;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GrainMail.Gateways.Http.Integrations;

/// <summary>A request whose signature checked out: the integration and the body it signed.</summary>
public sealed record VerifiedIntegration(Integration Integration, byte[] Body)
{
    private const string ItemKey = "grainmail.integration";

    public static VerifiedIntegration Of(HttpContext http) => (VerifiedIntegration)http.Items[ItemKey]!;

    public void AttachTo(HttpContext http) => http.Items[ItemKey] = this;
}

/// <summary>Marks a signed endpoint that any source address may call (single sign-on, as in the seed).</summary>
public sealed record AnySourceAddress;

/// <summary>
/// The check in front of every /api/v1/integration endpoint, in this order: the headers, a known
/// integration, a fresh timestamp, a registered source address, the signature, and last the
/// nonce (so that only a valid signature can spend one). The replay store is PostgreSQL, shared by
/// every gateway.
/// </summary>
public sealed class SignedRequestFilter(IGrainFactory grains, TimeProvider clock) : IEndpointFilter
{
    public const int MaxBodyBytes = 1024 * 1024;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!RequestSignature.TryRead(http.Request.Headers, out var headers, out var malformed)) return Refused(malformed);
        var store = grains.GetGrain<IIntegrationGrain>(0);
        var integration = await store.Get(headers.IntegrationId);
        if (integration is null) return Refused("Unknown integration");
        if (!RequestSignature.Fresh(headers.Timestamp, clock.GetUtcNow()))
            return Refused($"The timestamp is more than {RequestSignature.Validity.TotalMinutes:0} minutes away from the server's clock");
        if (http.GetEndpoint()?.Metadata.GetMetadata<AnySourceAddress>() is null
            && !SourceAddresses.Allows(integration.AllowedSources, http.Connection.RemoteIpAddress))
        {
            return ApiProblem.Of(StatusCodes.Status403Forbidden, "Source address not registered",
                $"{http.Connection.RemoteIpAddress} is not among the integration's allowed sources");
        }

        var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        while ((n = await http.Request.Body.ReadAsync(buffer, http.RequestAborted)) > 0)
        {
            if (body.Length + n > MaxBodyBytes) return ApiProblem.Of(StatusCodes.Status413PayloadTooLarge, "Body too large", $"At most {MaxBodyBytes} bytes");
            body.Write(buffer, 0, n);
        }
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } raw ? raw : http.Request.Path + http.Request.QueryString;
        var input = RequestSignature.SigningInput(http.Request.Method, target, headers.Timestamp, headers.Nonce, body.ToArray());
        if (!IntegrationKeys.Verify(integration.Algorithm, integration.PublicKey, input, headers.Signature)) return Refused("Bad signature");
        var keepUntil = DateTimeOffset.FromUnixTimeSeconds(headers.Timestamp) + RequestSignature.Validity + TimeSpan.FromMinutes(1);
        if (!await store.UseNonce(integration.Id, headers.Nonce, keepUntil)) return Refused("Replayed: this nonce was used before");

        new VerifiedIntegration(integration, body.ToArray()).AttachTo(http);
        return await next(context);
    }

    private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Refused(string detail) =>
        ApiProblem.Of(StatusCodes.Status401Unauthorized, "Signature refused", detail);
}
