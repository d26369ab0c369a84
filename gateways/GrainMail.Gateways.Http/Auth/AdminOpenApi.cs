using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace GrainMail.Gateways.Http.Auth;

/// <summary>Says in the OpenAPI document how to authenticate: the admin token as a bearer token (RFC 6750).</summary>
public sealed class AdminOpenApi : IOpenApiDocumentTransformer
{
    public const string SchemeName = "adminToken";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "GrainMail admin API";
        document.Info.Description = "Domains, accounts, aliases, app passwords, mailboxes, messages, DNS and the outbound queue. "
            + "Every /api/v1 route needs the admin token as a bearer token; errors are RFC 9457 problem documents.";
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The admin token (GRAINMAIL_ADMIN_TOKEN, or <data>/admin.token).",
        };
        document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] }];
        return Task.CompletedTask;
    }
}
