using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Lists;

/// <param name="PostPolicy">anyone | domain | members | senders | moderated.</param>
public sealed record CreateListRequest(string? Name, string? DisplayName, string? PostPolicy, List<string>? Senders, List<string>? Moderators);

/// <summary>Fields left out stay as they are.</summary>
public sealed record UpdateListRequest(string? DisplayName, string? PostPolicy, List<string>? Senders, List<string>? Moderators);

/// <param name="ListId">The RFC 2919 identifier its copies carry in List-Id.</param>
public sealed record ListResponse(string Address, string Name, string? DisplayName, string PostPolicy, IReadOnlyList<string> Senders,
    IReadOnlyList<string> Moderators, int Members, string ListId, DateTimeOffset CreatedAt);

/// <summary>Exactly one of the three: an account's address, a department's id (followed as it changes), or an external address.</summary>
public sealed record ListMemberRequest(string? Account, long? Department, string? External);

/// <param name="Kind">account | department | external.</param>
/// <param name="Value">The address, or the department's id.</param>
/// <param name="Name">The department's name.</param>
public sealed record ListMemberResponse(string Kind, string Value, string? Name);

public sealed record HeldPostResponse(Guid Id, string? Sender, string? Subject, long Size, DateTimeOffset ReceivedAt, DateTimeOffset HeldAt);

/// <summary>/domains/{domain}/lists: mailing lists, their members, and posts held for moderators.</summary>
public static class ListEndpoints
{
    public static void MapLists(this RouteGroupBuilder api)
    {
        var g = api.MapGroup("/domains/{domain}/lists").WithTags("Mailing lists");
        g.MapPost("", Create).Writes(ScopeResource.Domain);
        g.MapGet("", List).Reads(ScopeResource.Domain);
        g.MapGet("/{list}", Get).Reads(ScopeResource.Domain);
        g.MapPatch("/{list}", Update).Writes(ScopeResource.Domain);
        g.MapDelete("/{list}", Delete).Writes(ScopeResource.Domain);
        g.MapPost("/{list}/members", AddMember).Writes(ScopeResource.Domain);
        g.MapGet("/{list}/members", Members).Reads(ScopeResource.Domain);
        g.MapDelete("/{list}/members", RemoveMember).Writes(ScopeResource.Domain);
        g.MapGet("/{list}/held", Held).Reads(ScopeResource.Domain);
        g.MapPost("/{list}/held/{id:guid}/approve", Approve).Writes(ScopeResource.Domain);
        g.MapPost("/{list}/held/{id:guid}/reject", Reject).Writes(ScopeResource.Domain);
    }

    private static async Task<Results<Created<ListResponse>, ProblemHttpResult>> Create(string domain, [FromBody] CreateListRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var lp = LocalPart(req.Name, name);
        if (lp is null) return ApiProblem.BadRequest("Invalid list name", req.Name);
        if (!ListPostPolicies.TryParse(req.PostPolicy ?? "anyone", out var policy))
            return ApiProblem.BadRequest("Invalid post policy", $"{req.PostPolicy}: one of anyone, domain, members, senders, moderated");
        var settings = new ListSettings(lp, req.DisplayName, policy, req.Senders ?? [], req.Moderators ?? []);
        var d = grains.GetGrain<IDomainGrain>(name);
        var result = await d.CreateList(settings);
        if (result.Status != ListOpStatus.Ok) return Problem(result, name, lp);
        var info = (await d.GetList(lp))!;
        return TypedResults.Created($"/api/v1/domains/{name}/lists/{Uri.EscapeDataString(lp)}", Response(info));
    }

    private static async Task<Results<Ok<List<ListResponse>>, ProblemHttpResult>> List(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var lists = await grains.GetGrain<IDomainGrain>(name).ListLists();
        return lists is null ? ApiProblem.NoSuchDomain(name) : TypedResults.Ok(lists.Select(Response).ToList());
    }

    private static async Task<Results<Ok<ListResponse>, ProblemHttpResult>> Get(string domain, string list, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var info = LocalPart(list, name) is { } lp ? await grains.GetGrain<IDomainGrain>(name).GetList(lp) : null;
        return info is null ? NoSuchList(name, list) : TypedResults.Ok(Response(info));
    }

    private static async Task<Results<Ok<ListResponse>, ProblemHttpResult>> Update(string domain, string list, [FromBody] UpdateListRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        ListPostPolicy? policy = null;
        if (req.PostPolicy is not null)
        {
            if (!ListPostPolicies.TryParse(req.PostPolicy, out var p))
                return ApiProblem.BadRequest("Invalid post policy", $"{req.PostPolicy}: one of anyone, domain, members, senders, moderated");
            policy = p;
        }
        var d = grains.GetGrain<IDomainGrain>(name);
        var result = await d.UpdateList(lp, new ListPatch(req.DisplayName, policy, req.Senders, req.Moderators));
        if (result.Status != ListOpStatus.Ok) return Problem(result, name, lp);
        return TypedResults.Ok(Response((await d.GetList(lp))!));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string domain, string list, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        var result = await grains.GetGrain<IDomainGrain>(name).DeleteList(lp);
        return result.Status == ListOpStatus.Ok ? TypedResults.NoContent() : Problem(result, name, lp);
    }

    private static async Task<Results<Created<ListMemberResponse>, ProblemHttpResult>> AddMember(string domain, string list,
        [FromBody] ListMemberRequest? req, IGrainFactory grains)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        if (Member(req) is not { } member) return ApiProblem.BadRequest("Invalid member", "give exactly one of account, department, external");
        var result = await grains.GetGrain<IMailingListGrain>($"{lp}@{name}").AddMember(member);
        if (result.Status != ListOpStatus.Ok) return Problem(result, name, lp);
        var added = member with { Value = result.Detail ?? member.Value };
        return TypedResults.Created($"/api/v1/domains/{name}/lists/{Uri.EscapeDataString(lp)}/members", Response(added));
    }

    private static async Task<Results<Ok<List<ListMemberResponse>>, ProblemHttpResult>> Members(string domain, string list, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        var members = await grains.GetGrain<IMailingListGrain>($"{lp}@{name}").GetMembers();
        return members is null ? NoSuchList(name, lp) : TypedResults.Ok(members.Select(Response).ToList());
    }

    /// <summary>The member in the JSON body, or (for clients that send no body with DELETE) in the query: ?account=, ?department=, ?external=.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveMember(string domain, string list, [FromBody] ListMemberRequest? req,
        [FromQuery] string? account, [FromQuery] long? department, [FromQuery] string? external, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        if (Member(req ?? new ListMemberRequest(account, department, external)) is not { } member)
            return ApiProblem.BadRequest("Invalid member", "give exactly one of account, department, external");
        var result = await grains.GetGrain<IMailingListGrain>($"{lp}@{name}").RemoveMember(member);
        return result.Status == ListOpStatus.Ok ? TypedResults.NoContent()
            : result.Status == ListOpStatus.NotFound ? ApiProblem.NotFound("Not a member of the list", member.Value)
            : Problem(result, name, lp);
    }

    private static async Task<Results<Ok<List<HeldPostResponse>>, ProblemHttpResult>> Held(string domain, string list, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        var held = await grains.GetGrain<IMailingListGrain>($"{lp}@{name}").GetHeld();
        return held is null ? NoSuchList(name, lp)
            : TypedResults.Ok(held.Select(h => new HeldPostResponse(h.Id, h.Sender, h.Subject, h.Size, h.ReceivedAt, h.HeldAt)).ToList());
    }

    private static Task<Results<NoContent, ProblemHttpResult>> Approve(string domain, string list, Guid id, IGrainFactory grains) =>
        Decide(domain, list, id, grains, approve: true);

    private static Task<Results<NoContent, ProblemHttpResult>> Reject(string domain, string list, Guid id, IGrainFactory grains) =>
        Decide(domain, list, id, grains, approve: false);

    private static async Task<Results<NoContent, ProblemHttpResult>> Decide(string domain, string list, Guid id, IGrainFactory grains, bool approve)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (LocalPart(list, name) is not { } lp) return NoSuchList(name, list);
        var g = grains.GetGrain<IMailingListGrain>($"{lp}@{name}");
        var result = approve ? await g.Approve(id) : await g.Reject(id);
        return result.Status switch
        {
            ListOpStatus.Ok => TypedResults.NoContent(),
            ListOpStatus.NotFound => ApiProblem.NotFound("No such held post", $"{id} (already approved or rejected?)"),
            _ => Problem(result, name, lp),
        };
    }

    /// <summary>A list named by its local part or its whole address (in this domain).</summary>
    private static string? LocalPart(string? list, string domain)
    {
        if (list is null) return null;
        var at = list.LastIndexOf('@');
        if (at >= 0 && !string.Equals(MailAddress.NormalizeDomain(list[(at + 1)..]), domain, StringComparison.Ordinal)) return null;
        return MailAddress.NormalizeLocalPart(at >= 0 ? list[..at] : list);
    }

    private static ListMember? Member(ListMemberRequest req)
    {
        var given = (req.Account is not null ? 1 : 0) + (req.Department is not null ? 1 : 0) + (req.External is not null ? 1 : 0);
        if (given != 1) return null;
        if (req.Account is { } a) return new ListMember(ListMemberKind.Account, a);
        if (req.Department is { } d) return new ListMember(ListMemberKind.Department, d.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return new ListMember(ListMemberKind.External, req.External!);
    }

    private static ProblemHttpResult NoSuchList(string domain, string list) => ApiProblem.NotFound("No such list", $"{list} in {domain}");

    private static ProblemHttpResult Problem(ListOpResult result, string domain, string lp) => result.Status switch
    {
        ListOpStatus.NoSuchList => NoSuchList(domain, lp),
        ListOpStatus.NotFound => ApiProblem.NoSuchDomain(domain),
        ListOpStatus.AlreadyExists => ApiProblem.Conflict("Name or member already taken", result.Detail),
        _ => ApiProblem.BadRequest("Invalid list request", result.Detail),
    };

    private static ListResponse Response(ListInfo i) => new(i.Address, i.Settings.Name, i.Settings.DisplayName,
        ListPostPolicies.Name(i.Settings.PostPolicy), i.Settings.Senders, i.Settings.Moderators, i.Members, ListStreams.ListId(i.Address), i.CreatedAt);

    private static ListMemberResponse Response(ListMember m) => new(m.Kind.ToString().ToLowerInvariant(), m.Value, m.Label);
}
