using GrainMail.Contracts.Accounts;
using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Gateways.Http.Domains;
using GrainMail.Gateways.Http.Problems;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using GrainMail.Gateways.Http.Scopes;

namespace GrainMail.Gateways.Http.DirectoryAliases;

/// <summary>
/// Account aliases (<c>/accounts/{address}/aliases</c>), domain aliases
/// (<c>/domains/{domain}/domain-aliases</c>), the domain rename and the domain settings they
/// depend on (<c>PATCH /domains/{domain}</c>). The domain grain checks and stores; these map
/// its answers to status codes.
/// </summary>
public static class DirectoryAliasEndpoints
{
    public static void MapDirectoryAliases(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/accounts/{address}/aliases").WithTags("Account aliases");
        account.MapPost("", AddAccountAlias).Writes(ScopeResource.Account);
        account.MapGet("", ListAccountAliases).Reads(ScopeResource.Account, allowSelf: true);
        account.MapDelete("/{alias}", DeleteAccountAlias).Writes(ScopeResource.Account);

        var domain = api.MapGroup("/domains/{domain}").WithTags("Domain aliases");
        domain.MapPost("/domain-aliases", AddDomainAlias).Writes(ScopeResource.Domain);
        domain.MapGet("/domain-aliases", ListDomainAliases).Reads(ScopeResource.Domain);
        domain.MapDelete("/domain-aliases/{name}", DeleteDomainAlias).Writes(ScopeResource.Domain);
        domain.MapPost("/rename", Rename).NodeWide();
        api.MapGet("/domains/{domain}/settings", GetSettings).WithTags("Domains").Reads(ScopeResource.DomainOverview);
        api.MapPatch("/domains/{domain}", PatchSettings).WithTags("Domains").Writes(ScopeResource.Domain);
    }

    /// <summary>The domain grain that holds an address's account: its own domain's, or the domain its domain is an alias of.</summary>
    private static async Task<(IDomainGrain Grain, string Domain)> AccountDomainAsync(IGrainFactory grains, string address)
    {
        var domain = MailAddress.DomainOf(address);
        var grain = grains.GetGrain<IDomainGrain>(domain);
        return await grain.AliasOf() is { } primary ? (grains.GetGrain<IDomainGrain>(primary), primary) : (grain, domain);
    }

    private static async Task<Results<Created<AccountAliasResponse>, ProblemHttpResult>> AddAccountAlias(
        string address, [FromBody] AccountAliasRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        if (string.IsNullOrWhiteSpace(req.Alias)) return ApiProblem.BadRequest("Invalid alias", "alias is required");
        var (grain, domain) = await AccountDomainAsync(grains, a);
        var result = await grain.AddAccountAlias(MailAddress.LocalPartOf(a), req.Alias);
        return result.Status switch
        {
            DomainOpStatus.Ok => TypedResults.Created(
                $"/api/v1/accounts/{Uri.EscapeDataString(a)}/aliases/{Uri.EscapeDataString(result.Detail!)}",
                new AccountAliasResponse(result.Detail!, $"{result.Detail}@{domain}")),
            DomainOpStatus.NotFound => ApiProblem.NoSuchAccount(a),
            DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Address taken", result.Detail),
            _ => ApiProblem.BadRequest("Alias refused", result.Detail),
        };
    }

    private static async Task<Results<Ok<List<AccountAliasResponse>>, ProblemHttpResult>> ListAccountAliases(string address, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var (grain, _) = await AccountDomainAsync(grains, a);
        var aliases = await grain.ListAccountAliases(MailAddress.LocalPartOf(a));
        return aliases is null
            ? ApiProblem.NoSuchAccount(a)
            : TypedResults.Ok(aliases.Select(x => new AccountAliasResponse(MailAddress.LocalPartOf(x), x)).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAccountAlias(string address, string alias, IGrainFactory grains)
    {
        if (!RouteNames.TryAddress(address, out var a, out var problem)) return problem;
        var (grain, _) = await AccountDomainAsync(grains, a);
        return await grain.DeleteAccountAlias(MailAddress.LocalPartOf(a), alias) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such alias of this account", $"{alias} of {a}");
    }

    /// <summary>A new name for a domain, checked as a domain create checks it (IDNA2008/UTS 46, UTS 39 and confusables).</summary>
    private static async Task<ProblemHttpResult?> NewNameProblemAsync(string? text, DomainListing listing, CancellationToken ct)
    {
        if (!DomainName.TryParse(text, out var name, out var error)) return ApiProblem.BadRequest("Invalid domain name", $"'{text}': {error}");
        if (name.RegistrationProblem() is { } risky) return ApiProblem.BadRequest("Domain name refused", $"'{text}': {risky}");
        foreach (var existing in await listing.ListAsync(ct))
        {
            if (existing.Name == name.Ascii) return ApiProblem.Conflict("Name taken", $"{name.Ascii} is a hosted domain");
            if (DomainName.TryParse(existing.Name, out var other, out _) && name.IsConfusableWith(other))
                return ApiProblem.Conflict("Name taken", $"{name.Unicode} ({name.Ascii}) is confusable with the hosted domain {other.Unicode} ({other.Ascii})");
        }
        return null;
    }

    private static async Task<Results<Created<DomainAliasResponse>, ProblemHttpResult>> AddDomainAlias(
        string domain, [FromBody] DomainAliasRequest? req, IGrainFactory grains, DomainListing listing, CancellationToken ct)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        if (await NewNameProblemAsync(req.Name, listing, ct) is { } refused) return refused;
        var alias = MailAddress.NormalizeDomain(req.Name)!;
        var result = await grains.GetGrain<IDomainGrain>(d).AddDomainAlias(alias);
        return result.Status switch
        {
            DomainOpStatus.Ok => TypedResults.Created($"/api/v1/domains/{d}/domain-aliases/{alias}",
                DomainAliasResponse.From(new DomainAliasInfo(alias, d, false))),
            DomainOpStatus.NotFound => ApiProblem.NoSuchDomain(d),
            DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Name taken", result.Detail),
            _ => ApiProblem.BadRequest("Invalid domain alias", result.Detail),
        };
    }

    private static async Task<Results<Ok<List<DomainAliasResponse>>, ProblemHttpResult>> ListDomainAliases(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        var aliases = await grains.GetGrain<IDomainGrain>(d).ListDomainAliases();
        return aliases is null ? ApiProblem.NoSuchDomain(d) : TypedResults.Ok(aliases.Select(DomainAliasResponse.From).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteDomainAlias(string domain, string name, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        if (!RouteNames.TryDomain(name, out var alias, out problem)) return problem;
        return await grains.GetGrain<IDomainGrain>(d).DeleteDomainAlias(alias) == DomainOpStatus.Ok
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such domain alias", $"{alias} of {d}");
    }

    private static async Task<Results<Ok<RenameDomainResponse>, ProblemHttpResult>> Rename(
        string domain, [FromBody] RenameDomainRequest? req, IGrainFactory grains, DomainListing listing, CancellationToken ct)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        var grain = grains.GetGrain<IDomainGrain>(d);
        var current = await grain.ListDomainAliases();
        if (current is null) return ApiProblem.NoSuchDomain(d);
        var target = MailAddress.NormalizeDomain(req.Name);
        // A name that is already this domain's (itself or one of its aliases) needs no new-name checks.
        if (target != d && current.All(a => a.Name != target) && await NewNameProblemAsync(req.Name, listing, ct) is { } refused) return refused;
        var result = await grain.Rename(target!);
        if (result.Status != DomainOpStatus.Ok)
        {
            return result.Status switch
            {
                DomainOpStatus.NotFound => ApiProblem.NoSuchDomain(d),
                DomainOpStatus.AlreadyExists => ApiProblem.Conflict("Name taken", result.Detail),
                _ => ApiProblem.BadRequest("Invalid name", result.Detail),
            };
        }
        var aliases = await grain.ListDomainAliases() ?? [];
        return TypedResults.Ok(new RenameDomainResponse(d, target!, aliases.Select(DomainAliasResponse.From).ToList()));
    }

    private static async Task<Results<Ok<DomainSettingsResponse>, ProblemHttpResult>> GetSettings(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        var info = await grains.GetGrain<IDomainGrain>(d).GetInfo();
        if (info is null) return ApiProblem.NoSuchDomain(d);
        var tls = (await grains.GetGrain<ISecurityPolicyGrain>(0).GetPolicy(d)).AuthRequiresTlsShown;
        return TypedResults.Ok(DomainSettingsResponse.From(info) with { AuthRequiresTls = tls });
    }

    private static async Task<Results<Ok<DomainSettingsResponse>, ProblemHttpResult>> PatchSettings(
        string domain, [FromBody] DomainSettingsPatch? req, IGrainFactory grains, HttpContext http)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var d, out var problem)) return problem;
        if (req.DefaultQuotaBytes is <= 0 || req.MaxMessageBytes is <= 0) return ApiProblem.BadRequest("Limits must be positive");
        if (req.AccountAliasLimit is < 0 or > AccountAliasLimits.Max)
            return ApiProblem.BadRequest("Invalid alias limit", $"accountAliasLimit must be between 0 and {AccountAliasLimits.Max}");
        ForwardingPolicy? forwarding = null;
        if (req.ExternalForwarding is not null || req.ForwardingDomains is not null)
        {
            if (req.ExternalForwarding is not null && ForwardingNames.Parse(req.ExternalForwarding) is null)
                return ApiProblem.BadRequest("Invalid externalForwarding", "allowed, denied or listed");
            var listed = new List<string>();
            foreach (var name in req.ForwardingDomains ?? [])
            {
                if (!DomainName.TryParse(name, out var parsed, out var why)) return ApiProblem.BadRequest("Invalid forwarding domain", $"'{name}': {why}");
                listed.Add(parsed.Ascii);
            }
            forwarding = new ForwardingPolicy(ForwardingNames.Parse(req.ExternalForwarding) ?? GrainMail.Contracts.Domains.ExternalForwarding.ListedDomains, listed);
            if (forwarding.Mode == GrainMail.Contracts.Domains.ExternalForwarding.ListedDomains && listed.Count == 0)
                return ApiProblem.BadRequest("No forwarding domains", "\"listed\" needs forwardingDomains");
        }
        var grain = grains.GetGrain<IDomainGrain>(d);
        var info = await grain.GetInfo();
        if (info is null) return ApiProblem.NoSuchDomain(d);
        var settings = info.Settings with
        {
            Forwarding = forwarding ?? info.Settings.Forwarding,
            DefaultQuotaBytes = req.DefaultQuotaBytes ?? info.Settings.DefaultQuotaBytes,
            MaxMessageBytes = req.MaxMessageBytes ?? info.Settings.MaxMessageBytes,
            AccountAliasLimit = req.AccountAliasLimit ?? info.Settings.AccountAliasLimit,
        };
        if (await grain.UpdateSettings(settings) != DomainOpStatus.Ok) return ApiProblem.NoSuchDomain(d);
        var policies = grains.GetGrain<ISecurityPolicyGrain>(0);
        var policy = await policies.GetPolicy(d);
        if (req.AuthRequiresTls is { } tls && tls != policy.AuthRequiresTls)
        {
            policy = policy with { AuthRequiresTls = tls };
            await policies.SetPolicy(d, policy, GrainMail.Gateways.Http.AccountSecurity.AccountSecurityEndpoints.AdminActor(http));
        }
        return TypedResults.Ok(DomainSettingsResponse.From((await grain.GetInfo())!) with { AuthRequiresTls = policy.AuthRequiresTlsShown });
    }
}
