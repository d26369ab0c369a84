using GrainMail.Gateways.Http.Accounts;
using GrainMail.Gateways.Http.AccountSecurity;
using GrainMail.Gateways.Http.AddressBook;
using GrainMail.Gateways.Http.UserAuth;
using GrainMail.Gateways.Http.Aliases;
using GrainMail.Gateways.Http.AppPasswords;
using GrainMail.Gateways.Http.Auth;
using GrainMail.Gateways.Http.DeadLetters;
using GrainMail.Gateways.Http.DirectoryAliases;
using GrainMail.Gateways.Http.Dns;
using GrainMail.Gateways.Http.Domains;
using GrainMail.Gateways.Http.Health;
using GrainMail.Gateways.Http.Lists;
using GrainMail.Gateways.Http.Json;
using GrainMail.Gateways.Http.Mailbox;
using GrainMail.Gateways.Http.Messages;
using GrainMail.Gateways.Http.Organization;
using GrainMail.Gateways.Http.Outbound;
using GrainMail.Gateways.Http.Placement;
using GrainMail.Gateways.Http.SentLog;
using GrainMail.Gateways.Http.Spam;
using GrainMail.Gateways.Http.Trust;
using GrainMail.Gateways.Http.Roles;
using GrainMail.Gateways.Http.Sessions;
using GrainMail.Gateways.Http.Integrations;
using GrainMail.Gateways.Http.Governance;
using GrainMail.Gateways.Http.Certificates;
using GrainMail.Gateways.Http.LargeFiles;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Http;

/// <summary>Settings the admin API needs from its host.</summary>
public sealed class AdminApiOptions
{
    public string DefaultRegion { get; set; } = "local";

    /// <summary>Largest message the API accepts when the recipient domains set no lower limit.</summary>
    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>Header section limits of POST /messages (413 beyond them), the same as SMTP's and IMAP APPEND's.</summary>
    public GrainMail.Gateways.Common.Messages.MessageTextLimits MessageText { get; set; } = GrainMail.Gateways.Common.Messages.MessageTextLimits.Default;

    /// <summary>The configured egress links (for GET /outbound/links).</summary>
    public IReadOnlyList<AdminLink> Links { get; set; } = [];
}

public sealed record AdminLink(string Name, string Region, string Kind, string? Host);

/// <summary>
/// The JSON admin API (<c>/api/v1</c>, one file per resource), the health endpoints, the admin
/// token's authentication and the OpenAPI document (<c>/openapi/v1.json</c>). Errors are RFC 9457
/// problem documents: 400 bad input, 401 no token, 403 wrong token, 404 unknown domain or
/// account, 409 duplicate, 413 message too large, 503 (with Retry-After) while the cluster or its database
/// recovers from a failure (<see cref="Problems.TemporaryFailureMiddleware"/>).
/// </summary>
public static class AdminApi
{
    public const string Prefix = "/api/v1";
    public const string OpenApiPath = "/openapi/v1.json";

    /// <summary>Authentication, authorization, JSON, OpenAPI and the per-resource services.</summary>
    public static IServiceCollection AddGrainMailAdmin(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddAdminAuth();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AdminJsonContext.Default));
        services.AddOpenApi("v1", o =>
        {
            o.AddDocumentTransformer<AdminOpenApi>();
            o.AddOperationTransformer<AdminOpenApi>();
        });
        services.AddSingleton<DomainListing>();
        services.AddSingleton<OutboundQueues>();
        services.AddSingleton<SentLogReader>();
        services.AddSingleton<GrainMail.Gateways.Http.CardDav.CardDavSync>();
        services.AddAccountAuth(); // mail users: HTTP Basic over HTTPS (UserAuth/), for /api/v1/me and CardDAV
        return services;
    }

    public static WebApplication MapGrainMailAdmin(this WebApplication app)
    {
        // Outside authentication: the Basic login's password check is a grain call too.
        app.UseMiddleware<Problems.TemporaryFailureMiddleware>();
        app.UseAuthentication();
        app.UseMiddleware<GrainMail.Gateways.Http.Audit.AuditRecorder>(); // around authorization: a 403 is recorded too
        app.UseAuthorization();
        app.UseMiddleware<GrainMail.Gateways.Http.AccountSecurity.LoginRestrictionMiddleware>(); // sessions that must enrol or change the password first
        app.MapHealth();
        // The document describes the API, holds no data, and tools fetch it before they have a token.
        app.MapOpenApi().AllowAnonymous();

        var api = app.MapGroup(Prefix).RequireAuthorization(AdminAuth.ApiPolicy);
        api.MapDomains();
        api.MapAccounts();
        api.MapAliases();
        api.MapLists();
        api.MapAppPasswords();
        api.MapMailbox();
        api.MapMessages();
        api.MapDns();
        api.MapOutbound();
        api.MapPlacement();
        api.MapSentLog();
        api.MapDeadLetters();
        api.MapQuota();
        api.MapDepartments();
        api.MapDirectoryBatch();
        api.MapDirectoryAliases();
        api.MapTrust();
        api.MapVirusPolicy();
        api.MapRoles();
        api.MapSessions();
        api.MapIntegrations();
        api.MapSignedIntegration();
        api.MapAddressBook();
        GrainMail.Gateways.Http.Audit.AuditEndpoints.MapAudit(api);
        GrainMail.Gateways.Http.Governance.DomainSweepEndpoints.MapDomainSweep(api);
        GrainMail.Gateways.Http.Governance.ReportEndpoints.MapReports(api);
        api.MapAccountSecurity();
        GrainMail.Gateways.Http.LoginSecurity.LoginSecurityEndpoints.MapLoginSecurity(api);
        api.MapContent();
        app.MapMySpam(); // /api/v1/me/quarantine and /api/v1/me/sender-lists: account credentials
        app.MapAddressBookForUsers(); // /api/v1/me/address-book and CardDAV: account credentials, not the admin token
        app.MapAccountSecurityForUsers(); // /api/v1/me/sessions, two-factor, password; /password-resets
        api.MapGovernance();
        app.MapGovernanceForUsers(); // /api/v1/me/sent, /me/recall, /me/approvals
        api.MapDeletedMail();
        app.MapMyDeletedMail(); // /api/v1/me/deleted: account credentials
        api.MapCertificates(); // per-domain TLS certificates (issue 18)
        api.MapLargeFilePolicy(); // link lifetime of large attachments (issue 18)
        app.MapLargeFiles(); // /jmap/large: resumable uploads (account credentials) and downloads by link
        GrainMail.Gateways.Http.Sieve.MySieveEndpoints.MapMySieve(app); // /api/v1/me/sieve: account credentials, ManageSieve's store
        return app;
    }
}
