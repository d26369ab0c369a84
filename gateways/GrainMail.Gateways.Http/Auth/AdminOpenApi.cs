using GrainMail.Gateways.Http.Integrations;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace GrainMail.Gateways.Http.Auth;

/// <summary>
/// Says in the OpenAPI document how to authenticate: the admin token or a session token as a
/// bearer token (RFC 6750) for /api/v1; a request signature for /api/v1/integration/*; nothing
/// for the two doors in (login, sign-on ticket), which say so with an empty requirement.
/// </summary>
public sealed class AdminOpenApi : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    public const string SchemeName = "adminToken";
    public const string SessionSchemeName = "sessionToken";
    public const string SignatureSchemeName = "integrationSignature";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "GrainMail admin API";
        document.Info.Description = "Domains, accounts, aliases, app passwords, mailboxes, messages, DNS, the outbound queue, roles and integrations. "
            + "Every /api/v1 route needs the admin token or a session token as a bearer token, and checks the caller's scope (403 outside it); "
            + "/api/v1/integration/* takes signed requests instead. Errors are RFC 9457 problem documents.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The admin token (GRAINMAIL_ADMIN_TOKEN, or <data>/admin.token): the super admin, every endpoint.",
        };
        document.Components.SecuritySchemes[SessionSchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "gms_<43 base64url characters>",
            Description = "A session token from POST /api/v1/sessions (an account with an admin role: what its roles cover) or from a "
                + "single sign-on ticket (the account's own resources). Ends after 30 minutes unused, 12 hours after login, when the "
                + "last role is removed or the account is disabled.",
        };
        document.Components.SecuritySchemes[SignatureSchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = RequestSignature.SignatureHeader,
            Description = $"Base64 signature (Ed25519, or RSASSA-PKCS1-v1_5 with SHA-256) by the integration's registered key over the UTF-8 of "
                + $"'{RequestSignature.Version}' LF METHOD LF request-target LF timestamp LF nonce LF hex(SHA-256(body)); with headers "
                + $"{RequestSignature.IdHeader} (id), {RequestSignature.TimestampHeader} (Unix seconds, within 5 minutes) and "
                + $"{RequestSignature.NonceHeader} (16-128 of A-Z a-z 0-9 - _ . ~, once only). From a registered source address, single sign-on excepted.",
        };
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SessionSchemeName, document)] = [] },
        ];
        return Task.CompletedTask;
    }

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var path = "/" + (context.Description.RelativePath ?? "");
        if (path.StartsWith(AdminApi.Prefix + "/integration/", StringComparison.Ordinal) && context.Document is { } document)
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SignatureSchemeName, document)] = [] }];
        else if (metadata.OfType<IAllowAnonymous>().Any())
            operation.Security = [];
        return Task.CompletedTask;
    }
}
