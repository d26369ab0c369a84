using GrainMail.Contracts.AddressBook;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.AddressBook;

/// <summary>
/// The administrator's side of the address book: /domains/{domain}/contacts (public contacts) and
/// /domains/{domain}/address-book/rules (visibility rules).
/// </summary>
public static class AddressBookEndpoints
{
    public static void MapAddressBook(this RouteGroupBuilder api)
    {
        var contacts = api.MapGroup("/domains/{domain}/contacts").WithTags("Address book");
        contacts.MapPost("", AddContact).Writes(ScopeResource.Domain);
        contacts.MapGet("", ListContacts).Reads(ScopeResource.Domain);
        contacts.MapPatch("/{id:long}", UpdateContact).Writes(ScopeResource.Domain);
        contacts.MapDelete("/{id:long}", DeleteContact).Writes(ScopeResource.Domain);
        var rules = api.MapGroup("/domains/{domain}/address-book/rules").WithTags("Address book");
        rules.MapPost("", AddRule).Writes(ScopeResource.Domain);
        rules.MapGet("", ListRules).Reads(ScopeResource.Domain);
        rules.MapDelete("/{id:long}", DeleteRule).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Created<ContactResponse>, ProblemHttpResult>> AddContact(
        string domain, [FromBody] ContactRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IAddressBookAdminGrain>(name).AddContact(req.ToFields());
        return r.Status == AddressBookOpStatus.Ok
            ? TypedResults.Created($"/api/v1/domains/{name}/contacts/{r.Value!.Id}", ContactResponse.From(r.Value))
            : Problem(r.Status, name, r.Detail, "contact");
    }

    private static async Task<Results<Ok<List<ContactResponse>>, ProblemHttpResult>> ListContacts(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IAddressBookAdminGrain>(name).ListContacts();
        return r.Status == AddressBookOpStatus.Ok ? TypedResults.Ok(r.Value!.Select(ContactResponse.From).ToList()) : Problem(r.Status, name, r.Detail, "contact");
    }

    private static async Task<Results<Ok<ContactResponse>, ProblemHttpResult>> UpdateContact(
        string domain, long id, [FromBody] ContactRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IAddressBookAdminGrain>(name).UpdateContact(id, req.ToFields());
        return r.Status == AddressBookOpStatus.Ok && r.Value is not null
            ? TypedResults.Ok(ContactResponse.From(r.Value))
            : Problem(r.Status == AddressBookOpStatus.Ok ? AddressBookOpStatus.NotFound : r.Status, name, r.Detail, "contact");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteContact(string domain, long id, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var status = await grains.GetGrain<IAddressBookAdminGrain>(name).DeleteContact(id);
        return status == AddressBookOpStatus.Ok ? TypedResults.NoContent() : Problem(status, name, null, "contact");
    }

    private static async Task<Results<Created<RuleResponse>, ProblemHttpResult>> AddRule(
        string domain, [FromBody] RuleRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var rule = new NewVisibilityRule(req.Name, req.AppliesTo?.Departments ?? [], req.AppliesTo?.Accounts ?? [], req.VisibleDepartments ?? []);
        var r = await grains.GetGrain<IAddressBookAdminGrain>(name).AddRule(rule);
        return r.Status == AddressBookOpStatus.Ok
            ? TypedResults.Created($"/api/v1/domains/{name}/address-book/rules/{r.Value!.Id}", RuleResponse.From(r.Value, name))
            : Problem(r.Status, name, r.Detail, "rule");
    }

    private static async Task<Results<Ok<List<RuleResponse>>, ProblemHttpResult>> ListRules(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var r = await grains.GetGrain<IAddressBookAdminGrain>(name).ListRules();
        return r.Status == AddressBookOpStatus.Ok ? TypedResults.Ok(r.Value!.Select(x => RuleResponse.From(x, name)).ToList()) : Problem(r.Status, name, r.Detail, "rule");
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteRule(string domain, long id, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var status = await grains.GetGrain<IAddressBookAdminGrain>(name).DeleteRule(id);
        return status == AddressBookOpStatus.Ok ? TypedResults.NoContent() : Problem(status, name, null, "rule");
    }

    private static ProblemHttpResult Problem(AddressBookOpStatus status, string domain, string? detail, string what) => status switch
    {
        AddressBookOpStatus.NoSuchDomain => ApiProblem.NoSuchDomain(domain),
        AddressBookOpStatus.NotFound => ApiProblem.NotFound($"No such {what}", detail),
        AddressBookOpStatus.AlreadyExists => ApiProblem.Conflict($"Duplicate {what}", detail),
        _ => ApiProblem.BadRequest($"Invalid {what}", detail),
    };
}
