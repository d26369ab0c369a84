using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace GrainMail.Gateways.Http.UserAuth;

/// <summary>
/// Says in the OpenAPI document that /api/v1/me routes take a mail account's credentials (HTTP
/// Basic, RFC 7617, on the HTTPS listener) or a session token of the account (POST /api/v1/me/sessions)
/// instead of the admin token.
/// </summary>
public sealed class AccountOpenApi : IOpenApiDocumentTransformer
{
    public const string SchemeName = "accountBasic";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "basic",
            Description = "A mail account's address and password or app password; only on the HTTPS listener (GRAINMAIL_HTTPS_PORT).",
        };
        foreach (var (path, item) in document.Paths)
        {
            if (!path.StartsWith(AdminApi.Prefix + "/me/", StringComparison.Ordinal) || item.Operations is null) continue;
            foreach (var operation in item.Operations.Values)
            {
                // The door in (POST /me/sessions) is open and says so already.
                if (operation.Security is { Count: 0 }) continue;
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(GrainMail.Gateways.Http.Auth.AdminOpenApi.SessionSchemeName, document)] = [] },
                ];
            }
        }
        return Task.CompletedTask;
    }
}
