using System.Security.Claims;
using GrainMail.Contracts;
using GrainMail.Contracts.Governance;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Governance;

/// <param name="Retention">Days per folder name ('*' = every other folder; 0 = keep forever). Junk and Trash default to 30.</param>
public sealed record GovernanceSettingsResponse(bool MonitoringEnabled, string? MonitoringReviewer, int RecallDays, IReadOnlyDictionary<string, int> Retention);

/// <param name="Enabled">Monitoring copies for the domain (4.2.7); only the super admin or a domain admin sets it.</param>
/// <param name="Reviewer">The account told by mail of every relation made or removed.</param>
public sealed record MonitoringSettingRequest(bool? Enabled, string? Reviewer);

public sealed record RecallSettingRequest(int? Days);

public sealed record RetentionRequest(Dictionary<string, int>? Folders);

public sealed record RetentionRunResponse(int Removed);

/// <summary>An outbound approval rule: conditions left out do not restrict.</summary>
/// <param name="Senders">Accounts whose mail the rule covers.</param>
/// <param name="Departments">Department ids whose subtrees' accounts the rule covers (with Senders: either).</param>
/// <param name="OutsideDomain">Only mail with a recipient outside the domain.</param>
/// <param name="ToDomains">Only mail with a recipient in one of these domains.</param>
/// <param name="SizeOver">Only mail larger than this many bytes.</param>
/// <param name="Keywords">Words looked for in subject and body (any, case-insensitive).</param>
/// <param name="Patterns">.NET regular expressions looked for in subject and body (any).</param>
/// <param name="Reviewer">The account that approves or rejects, and receives the notice.</param>
/// <param name="ExpireAfterSeconds">Held this long without a decision, the message is rejected with <paramref name="ExpiryReason"/>.</param>
public sealed record ApprovalRuleRequest(string? Name, List<string>? Senders, List<long>? Departments, bool? OutsideDomain, List<string>? ToDomains,
    bool? HasAttachments, long? SizeOver, List<string>? Keywords, List<string>? Patterns, string? Reviewer, int? ExpireAfterSeconds, string? ExpiryReason);

public sealed record ApprovalRuleResponse(long Id, string Name, IReadOnlyList<string> Senders, IReadOnlyList<long> Departments, bool OutsideDomain,
    IReadOnlyList<string> ToDomains, bool HasAttachments, long? SizeOver, IReadOnlyList<string> Keywords, IReadOnlyList<string> Patterns,
    string Reviewer, int ExpireAfterSeconds, string ExpiryReason)
{
    public static ApprovalRuleResponse From(ApprovalRule r) => new(r.Id, r.Name, r.Senders, r.Departments, r.OutsideDomain, r.ToDomains,
        r.HasAttachments, r.SizeOver, r.Keywords, r.Patterns, r.Reviewer, (int)r.ExpireAfter.TotalSeconds, r.ExpiryReason);
}

public sealed record HeldMessageResponse(Guid Id, string Domain, string Rule, string Reviewer, string Account, string? Sender,
    IReadOnlyList<string> Recipients, string Subject, long Size, DateTimeOffset HeldAt, DateTimeOffset ExpiresAt)
{
    public static HeldMessageResponse From(HeldMessage h) =>
        new(h.Id, h.Domain, h.RuleName, h.Reviewer, h.Account, h.Sender, h.Recipients, h.Subject, h.Size, h.HeldAt, h.ExpiresAt);
}

public sealed record RejectRequest(string? Reason);

public sealed record MonitoringRequest(string? Monitored, string? Master);

public sealed record MonitoringResponse(string Monitored, string Master, DateTimeOffset CreatedAt);

/// <param name="Id">The submission id ("queued as"), a sent-log message id, or the Message-ID.</param>
public sealed record RecallRequest(string? Id);

/// <param name="Outcome">recalled | already-read | outside-domain | not-in-mailbox.</param>
public sealed record RecallResultResponse(string Recipient, string Outcome);

public sealed record RecallResponse(Guid Id, IReadOnlyList<RecallResultResponse> Results);

public sealed record SentMessageResponse(Guid Id, string? MessageId, string Subject, DateTimeOffset SentAt, IReadOnlyList<string> LocalRecipients,
    IReadOnlyList<string> External, IReadOnlyList<Guid> OutboundIds);

/// <summary>
/// Governance (issue 17): per-domain settings, outbound approval rules and held mail, monitoring
/// relations (admin token or session), and for mail users (/api/v1/me, account credentials on
/// HTTPS) their sent list, recall and their own review queue.
/// </summary>
public static class GovernanceEndpoints
{
    private const int MaxRuleItems = 1000;

    public static void MapGovernance(this RouteGroupBuilder api)
    {
        var d = api.MapGroup("/domains/{domain}").WithTags("Governance");
        d.MapGet("/governance", Settings).Reads(ScopeResource.Domain);
        d.MapPut("/governance/monitoring", SetMonitoring).Writes(ScopeResource.Domain);
        d.MapPut("/governance/recall", SetRecall).Writes(ScopeResource.Domain);
        d.MapPut("/governance/retention", SetRetention).Writes(ScopeResource.Domain);
        d.MapPost("/governance/retention/run", RunRetention).Writes(ScopeResource.Domain);
        d.MapGet("/approval-rules", Rules).Reads(ScopeResource.Domain);
        d.MapPost("/approval-rules", AddRule).Writes(ScopeResource.Domain);
        d.MapDelete("/approval-rules/{id:long}", RemoveRule).Writes(ScopeResource.Domain);
        d.MapGet("/monitoring", Monitoring).Reads(ScopeResource.Domain);
        d.MapPost("/monitoring", AddMonitoring).Writes(ScopeResource.Domain);
        d.MapDelete("/monitoring/{monitored}", RemoveMonitoring).Writes(ScopeResource.Domain);

        // Reviewers: the super admin, the domain's admins, and the account a rule names (with its session token).
        var a = api.MapGroup("/approvals").WithTags("Governance");
        a.MapGet("", Held).Reads(ScopeResource.CheckedByEndpoint);
        a.MapPost("/{id:guid}/approve", Approve).Writes(ScopeResource.CheckedByEndpoint);
        a.MapPost("/{id:guid}/reject", Reject).Writes(ScopeResource.CheckedByEndpoint);
    }

    /// <summary>/api/v1/me/sent, /me/recall and /me/approvals for mail users (HTTP Basic on the HTTPS listener).</summary>
    public static IEndpointRouteBuilder MapGovernanceForUsers(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup(AdminApi.Prefix + "/me").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("/sent", MySent);
        me.MapPost("/recall", MyRecall);
        me.MapGet("/approvals", MyApprovals);
        me.MapPost("/approvals/{id:guid}/approve", MyApprove);
        me.MapPost("/approvals/{id:guid}/reject", MyReject);
        return app;
    }

    // ---- settings -----------------------------------------------------------------------------

    private static async Task<Results<Ok<GovernanceSettingsResponse>, ProblemHttpResult>> Settings(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var s = await grains.GetGrain<IGovernanceGrain>(name).GetSettings();
        return TypedResults.Ok(new GovernanceSettingsResponse(s.MonitoringEnabled, s.MonitoringReviewer, s.RecallDays, s.Retention));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetMonitoring(string domain, [FromBody] MonitoringSettingRequest? req,
        IGrainFactory grains, HttpContext http)
    {
        if (req?.Enabled is not { } enabled) return ApiProblem.BadRequest("enabled is required");
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        string? reviewer = null;
        if (req.Reviewer is not null)
        {
            reviewer = MailAddress.Normalize(req.Reviewer);
            if (reviewer is null || !await AccountExists(grains, reviewer)) return ApiProblem.BadRequest("No such reviewer account", req.Reviewer);
        }
        if (enabled && reviewer is null) return ApiProblem.BadRequest("A reviewer account is required to enable monitoring");
        await grains.GetGrain<IGovernanceGrain>(name).SetMonitoring(enabled, reviewer, Actor(http));
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetRecall(string domain, [FromBody] RecallSettingRequest? req, IGrainFactory grains,
        HttpContext http)
    {
        if (req?.Days is not (>= 0 and <= 365) || req.Days is not { } days) return ApiProblem.BadRequest("days must be 0 to 365");
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        await grains.GetGrain<IGovernanceGrain>(name).SetRecallDays(days, Actor(http));
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> SetRetention(string domain, [FromBody] RetentionRequest? req, IGrainFactory grains,
        HttpContext http)
    {
        if (req?.Folders is not { } folders) return ApiProblem.BadRequest("folders is required", "{\"folders\": {\"Trash\": 30, \"*\": 0}}");
        if (folders.Count > 200 || folders.Any(f => f.Key.Length is 0 or > 200 || f.Value is < 0 or > 36500))
            return ApiProblem.BadRequest("Invalid retention", "folder names of 1-200 characters, days 0 (keep) to 36500");
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        await grains.GetGrain<IGovernanceGrain>(name).SetRetention(folders, Actor(http));
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<RetentionRunResponse>, ProblemHttpResult>> RunRetention(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return TypedResults.Ok(new RetentionRunResponse(await grains.GetGrain<IRetentionGrain>(name).Sweep()));
    }

    // ---- approval rules and held mail -------------------------------------------------------------

    private static async Task<Results<Ok<List<ApprovalRuleResponse>>, ProblemHttpResult>> Rules(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return TypedResults.Ok((await grains.GetGrain<IGovernanceGrain>(name).ListRules()).Select(ApprovalRuleResponse.From).ToList());
    }

    private static async Task<Results<Created<ApprovalRuleResponse>, ProblemHttpResult>> AddRule(string domain, [FromBody] ApprovalRuleRequest? req,
        IGrainFactory grains, HttpContext http)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (string.IsNullOrWhiteSpace(req.Name) || req.Name.Length > 200) return ApiProblem.BadRequest("name is required (at most 200 characters)");
        if (MailAddress.Normalize(req.Reviewer) is not { } reviewer || !await AccountExists(grains, reviewer))
            return ApiProblem.BadRequest("reviewer must be an existing account", req.Reviewer);
        if (req.ExpireAfterSeconds is not (> 0 and <= 90 * 86400) || req.ExpireAfterSeconds is not { } expire)
            return ApiProblem.BadRequest("expireAfterSeconds must be 1 to 7776000 (90 days)");
        var senders = new List<string>();
        foreach (var s in req.Senders ?? [])
        {
            if (MailAddress.Normalize(s) is not { } a || MailAddress.DomainOf(a) != name) return ApiProblem.BadRequest("senders must be addresses of the domain", s);
            senders.Add(a);
        }
        var toDomains = new List<string>();
        foreach (var t in req.ToDomains ?? [])
        {
            if (MailAddress.NormalizeDomain(t) is not { } n) return ApiProblem.BadRequest("Invalid domain in toDomains", t);
            toDomains.Add(n);
        }
        var keywords = (req.Keywords ?? []).Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => k.Trim()).ToList();
        var patterns = req.Patterns ?? [];
        if (senders.Count + toDomains.Count + keywords.Count + patterns.Count + (req.Departments?.Count ?? 0) > MaxRuleItems)
            return ApiProblem.BadRequest($"A rule holds at most {MaxRuleItems} items");
        if (ApprovalMatcher.InvalidPattern(patterns) is { } bad) return ApiProblem.BadRequest("Invalid pattern", bad);
        if (req.SizeOver is < 0) return ApiProblem.BadRequest("sizeOver must not be negative");
        var rule = new ApprovalRule(0, req.Name.Trim(), senders, req.Departments ?? [], req.OutsideDomain ?? false, toDomains,
            req.HasAttachments ?? false, req.SizeOver, keywords, patterns, reviewer, TimeSpan.FromSeconds(expire),
            string.IsNullOrWhiteSpace(req.ExpiryReason) ? "The message was not approved in time" : req.ExpiryReason.Trim());
        var added = await grains.GetGrain<IGovernanceGrain>(name).AddRule(rule, Actor(http));
        return TypedResults.Created($"/api/v1/domains/{name}/approval-rules/{added.Id}", ApprovalRuleResponse.From(added));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveRule(string domain, long id, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return await grains.GetGrain<IGovernanceGrain>(name).RemoveRule(id, Actor(http))
            ? TypedResults.NoContent()
            : ApiProblem.NotFound("No such rule", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>?domain= lists a domain's held mail (its admins); without it, the caller's own review queue.</summary>
    private static async Task<Results<Ok<List<HeldMessageResponse>>, ProblemHttpResult>> Held(string? domain, IGrainFactory grains, HttpContext http)
    {
        var caller = AdminCaller.Of(http)!;
        if (domain is not null)
        {
            if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
            if (!caller.HasDomainWideRole(name, write: false)) return ApiProblem.Of(StatusCodes.Status403Forbidden, "Forbidden", $"{name} is outside your scope");
            return TypedResults.Ok((await grains.GetGrain<IApprovalGrain>(name).List()).Select(HeldMessageResponse.From).ToList());
        }
        if (caller.Account is null) return ApiProblem.BadRequest("domain is required for the super admin");
        return TypedResults.Ok((await grains.GetGrain<IGovernanceViewGrain>(0).HeldForReviewer(caller.Account)).Select(HeldMessageResponse.From).ToList());
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Approve(Guid id, IGrainFactory grains, HttpContext http)
    {
        var caller = AdminCaller.Of(http)!;
        var held = await grains.GetGrain<IGovernanceViewGrain>(0).FindHeld(id);
        if (held is null || !MayDecide(caller, held)) return NoSuchHeld(id);
        var status = await grains.GetGrain<IApprovalGrain>(held.Domain).Approve(id, Actor(http, held));
        return status == ApprovalDecisionStatus.Done ? TypedResults.NoContent() : NoSuchHeld(id);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Reject(Guid id, [FromBody] RejectRequest? req, IGrainFactory grains, HttpContext http)
    {
        if (string.IsNullOrWhiteSpace(req?.Reason) || req.Reason.Length > 1000) return ApiProblem.BadRequest("reason is required (at most 1000 characters)");
        var caller = AdminCaller.Of(http)!;
        var held = await grains.GetGrain<IGovernanceViewGrain>(0).FindHeld(id);
        if (held is null || !MayDecide(caller, held)) return NoSuchHeld(id);
        var status = await grains.GetGrain<IApprovalGrain>(held.Domain).Reject(id, req.Reason.Trim(), Actor(http, held));
        return status == ApprovalDecisionStatus.Done ? TypedResults.NoContent() : NoSuchHeld(id);
    }

    // A message the caller may not decide is as invisible to it as one that does not exist.
    private static bool MayDecide(AdminCaller caller, HeldMessage held) =>
        caller.Account == held.Reviewer || caller.HasDomainWideRole(held.Domain, write: true);

    private static ProblemHttpResult NoSuchHeld(Guid id) => ApiProblem.NotFound("No such held message", id.ToString());

    // ---- monitoring ---------------------------------------------------------------------------

    private static async Task<Results<Ok<List<MonitoringResponse>>, ProblemHttpResult>> Monitoring(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        return TypedResults.Ok((await grains.GetGrain<IGovernanceGrain>(name).ListMonitoring())
            .Select(m => new MonitoringResponse(m.Monitored, m.Master, m.CreatedAt)).ToList());
    }

    private static async Task<Results<Created<MonitoringResponse>, ProblemHttpResult>> AddMonitoring(string domain, [FromBody] MonitoringRequest? req,
        IGrainFactory grains, HttpContext http)
    {
        if (req is null) return ApiProblem.BadJson();
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (MailAddress.Normalize(req.Monitored) is not { } monitored || MailAddress.Normalize(req.Master) is not { } master)
            return ApiProblem.BadRequest("monitored and master must be addresses");
        var g = grains.GetGrain<IGovernanceGrain>(name);
        var status = await g.AddMonitoring(monitored, master, Actor(http));
        if (status != MonitoringStatus.Ok) return MonitoringProblem(status, monitored, master);
        var made = (await g.ListMonitoring()).First(m => m.Monitored == monitored);
        return TypedResults.Created($"/api/v1/domains/{name}/monitoring/{Uri.EscapeDataString(monitored)}",
            new MonitoringResponse(made.Monitored, made.Master, made.CreatedAt));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RemoveMonitoring(string domain, string monitored, IGrainFactory grains, HttpContext http)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (MailAddress.Normalize(monitored) is not { } m) return ApiProblem.BadRequest("Invalid address", monitored);
        var status = await grains.GetGrain<IGovernanceGrain>(name).RemoveMonitoring(m, Actor(http));
        return status == MonitoringStatus.Ok ? TypedResults.NoContent() : MonitoringProblem(status, m, "");
    }

    private static ProblemHttpResult MonitoringProblem(MonitoringStatus status, string monitored, string master) => status switch
    {
        MonitoringStatus.NotAuthorised => ApiProblem.Conflict("Monitoring is not enabled", "the domain's owner has not authorised monitoring copies"),
        MonitoringStatus.SelfMonitoring => ApiProblem.Conflict("A master never monitors itself", monitored),
        MonitoringStatus.AlreadyHasMaster => ApiProblem.Conflict("The account already has a master", monitored),
        MonitoringStatus.Cycle => ApiProblem.Conflict("The relation would close a cycle", $"{master} is already monitored, directly or through a chain, by {monitored}"),
        MonitoringStatus.NotInDomain => ApiProblem.BadRequest("Both accounts must belong to the domain"),
        MonitoringStatus.NoSuchAccount => ApiProblem.NotFound("No such account", $"{monitored} or {master}"),
        _ => ApiProblem.NotFound("No such relation", monitored),
    };

    // ---- mail users -------------------------------------------------------------------------

    private static async Task<Ok<List<SentMessageResponse>>> MySent(ClaimsPrincipal user, IGrainFactory grains, int? limit)
    {
        var sent = await grains.GetGrain<IRecallGrain>(0).Sent(user.Address(), Math.Clamp(limit ?? 50, 1, 1000));
        return TypedResults.Ok(sent.Select(s => new SentMessageResponse(s.Id, s.MessageId, s.Subject, s.SentAt, s.LocalRecipients, s.External, s.OutboundIds)).ToList());
    }

    private static async Task<Results<Ok<RecallResponse>, ProblemHttpResult>> MyRecall(ClaimsPrincipal user, [FromBody] RecallRequest? req,
        IGrainFactory grains, HttpContext http)
    {
        if (string.IsNullOrWhiteSpace(req?.Id) || req.Id.Length > 998) return ApiProblem.BadRequest("id is required", "a submission id, sent-log id or Message-ID");
        var actor = new GovernanceActor(user.Address(), "user", http.Connection.RemoteIpAddress?.ToString() ?? "");
        var report = await grains.GetGrain<IRecallGrain>(0).Recall(user.Address(), req.Id.Trim(), actor);
        return report.Status switch
        {
            RecallStatus.NotFound => ApiProblem.NotFound("No such sent message", req.Id),
            RecallStatus.TooLate => ApiProblem.Conflict("Too late to recall", "the domain's recall window has passed"),
            _ => TypedResults.Ok(new RecallResponse(report.SentId!.Value, report.Results.Select(r => new RecallResultResponse(r.Recipient, OutcomeName(r.Outcome))).ToList())),
        };
    }

    public static string OutcomeName(RecallOutcome o) => o switch
    {
        RecallOutcome.Recalled => "recalled",
        RecallOutcome.AlreadyRead => "already-read",
        RecallOutcome.OutsideDomain => "outside-domain",
        _ => "not-in-mailbox",
    };

    private static async Task<Ok<List<HeldMessageResponse>>> MyApprovals(ClaimsPrincipal user, IGrainFactory grains) =>
        TypedResults.Ok((await grains.GetGrain<IGovernanceViewGrain>(0).HeldForReviewer(user.Address())).Select(HeldMessageResponse.From).ToList());

    private static async Task<Results<NoContent, ProblemHttpResult>> MyApprove(Guid id, ClaimsPrincipal user, IGrainFactory grains, HttpContext http)
    {
        var held = await grains.GetGrain<IGovernanceViewGrain>(0).FindHeld(id);
        if (held is null || held.Reviewer != user.Address()) return NoSuchHeld(id);
        var actor = new GovernanceActor(user.Address(), "reviewer", http.Connection.RemoteIpAddress?.ToString() ?? "");
        return await grains.GetGrain<IApprovalGrain>(held.Domain).Approve(id, actor) == ApprovalDecisionStatus.Done ? TypedResults.NoContent() : NoSuchHeld(id);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> MyReject(Guid id, [FromBody] RejectRequest? req, ClaimsPrincipal user,
        IGrainFactory grains, HttpContext http)
    {
        if (string.IsNullOrWhiteSpace(req?.Reason) || req.Reason.Length > 1000) return ApiProblem.BadRequest("reason is required (at most 1000 characters)");
        var held = await grains.GetGrain<IGovernanceViewGrain>(0).FindHeld(id);
        if (held is null || held.Reviewer != user.Address()) return NoSuchHeld(id);
        var actor = new GovernanceActor(user.Address(), "reviewer", http.Connection.RemoteIpAddress?.ToString() ?? "");
        return await grains.GetGrain<IApprovalGrain>(held.Domain).Reject(id, req.Reason.Trim(), actor) == ApprovalDecisionStatus.Done
            ? TypedResults.NoContent() : NoSuchHeld(id);
    }

    // ---- helpers ------------------------------------------------------------------------------

    private static async Task<bool> AccountExists(IGrainFactory grains, string address) =>
        await grains.GetGrain<GrainMail.Contracts.Domains.IDomainGrain>(MailAddress.DomainOf(address))
            .GetAccountPolicy(address[..address.LastIndexOf('@')]) is not null;

    private static GovernanceActor Actor(HttpContext http, HeldMessage? held = null)
    {
        var caller = AdminCaller.Of(http)!;
        var role = caller.IsSuper ? "super"
            : held is not null && caller.Account == held.Reviewer ? "reviewer"
            : caller.Roles.FirstOrDefault() is { } r ? GrainMail.Contracts.Admin.AdminRoleNames.Of(r.Role) : "user";
        return new GovernanceActor(caller.IsSuper ? "super" : caller.Account ?? "", role, http.Connection.RemoteIpAddress?.ToString() ?? "");
    }
}
