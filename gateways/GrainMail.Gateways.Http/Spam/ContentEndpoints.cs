using System.Security.Claims;
using GrainMail.Contracts.Trust;
using GrainMail.Gateways.Http.Problems;
using GrainMail.Gateways.Http.Scopes;
using GrainMail.Gateways.Http.Trust;
using GrainMail.Gateways.Http.UserAuth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace GrainMail.Gateways.Http.Spam;

/// <summary>An allow or block entry: list "allow" or "block", entry an address or a domain (covering its subdomains).</summary>
public sealed record SenderListBody(string? List, string? Entry);

public sealed record SenderListLine(string List, string Entry, DateTimeOffset CreatedAt);

public sealed record TrainResult(string Result);

public sealed record ClassifyResult(double Probability, int Clues, int Tokens, string? Symbol, double Weight, double ElapsedMicroseconds);

public sealed record ModelSizeBody(int SpamMessages, int HamMessages);

/// <summary>A domain's quarantine digest: how often (minutes; default 1440, daily) and when it last ran.</summary>
public sealed record DigestBody(double? IntervalMinutes, DateTimeOffset? LastRun);

public sealed record DigestSent(int Sent);

/// <summary>
/// The content classifier, sender lists and quarantine digest over HTTP. Admin token: training the global
/// model (POST /spam/train?class=spam|ham, body: one RFC 5322 message, an mbox "From " line tolerated),
/// classifying a message (POST /spam/classify[?mailbox=]), the model's size and its reset (DELETE /spam/model), each domain's and account's
/// allow/block lists, and the domain's digest interval. Mail users (HTTP Basic, /api/v1/me): their own
/// quarantine (list, release, delete) and their own allow/block list.
/// </summary>
public static class ContentEndpoints
{
    /// <summary>The largest message the train and classify endpoints take.</summary>
    public const int MaxMessageBytes = 10 * 1024 * 1024;

    public static void MapContent(this RouteGroupBuilder api)
    {
        api.MapPost("/spam/train", Train).WithTags("Spam").NodeWide();
        api.MapPost("/spam/classify", Classify).WithTags("Spam").NodeWide();
        api.MapGet("/spam/model", Model).WithTags("Spam").NodeWide();
        api.MapDelete("/spam/model", Reset).WithTags("Spam").NodeWide();
        api.MapGet("/domains/{domain}/sender-lists", DomainLists).WithTags("Spam").Reads(ScopeResource.Domain);
        api.MapPost("/domains/{domain}/sender-lists", DomainAdd).WithTags("Spam").Writes(ScopeResource.Domain);
        api.MapDelete("/domains/{domain}/sender-lists", DomainRemove).WithTags("Spam").Writes(ScopeResource.Domain);
        api.MapGet("/accounts/{address}/sender-lists", AccountLists).WithTags("Spam").Reads(ScopeResource.Account);
        api.MapPost("/accounts/{address}/sender-lists", AccountAdd).WithTags("Spam").Writes(ScopeResource.Account);
        api.MapDelete("/accounts/{address}/sender-lists", AccountRemove).WithTags("Spam").Writes(ScopeResource.Account);
        api.MapGet("/domains/{domain}/quarantine/digest", GetDigest).WithTags("Spam").Reads(ScopeResource.Domain);
        api.MapPut("/domains/{domain}/quarantine/digest", PutDigest).WithTags("Spam").Writes(ScopeResource.Domain);
        api.MapPost("/domains/{domain}/quarantine/digest/send", SendDigest).WithTags("Spam").Writes(ScopeResource.Domain);
    }

    /// <summary>/api/v1/me/quarantine and /api/v1/me/sender-lists: the signed-in mail user's own.</summary>
    public static IEndpointRouteBuilder MapMySpam(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup(AdminApi.Prefix + "/me").RequireAuthorization(AccountAuth.Policy).WithTags("Me");
        me.MapGet("/quarantine", MyQuarantine);
        me.MapPost("/quarantine/{id:guid}/release", MyRelease);
        me.MapDelete("/quarantine/{id:guid}", MyDelete);
        me.MapGet("/sender-lists", (ClaimsPrincipal user, IGrainFactory grains) => Lines(grains, user.Address()));
        me.MapPost("/sender-lists", (ClaimsPrincipal user, SenderListBody body, HttpContext http, IGrainFactory grains) => Add(grains, user.Address(), body, http));
        me.MapDelete("/sender-lists", (ClaimsPrincipal user, string? list, string? entry, HttpContext http, IGrainFactory grains) =>
            Remove(grains, user.Address(), list, entry, http));
        return app;
    }

    private static async Task<Results<Ok<TrainResult>, ProblemHttpResult>> Train(HttpContext http, string? @class, IGrainFactory grains)
    {
        if (@class is not ("spam" or "ham")) return ApiProblem.BadRequest("class must be spam or ham");
        if (await ReadMessage(http) is not { } raw) return ApiProblem.BadRequest("Empty or oversized message", $"1 to {MaxMessageBytes} bytes");
        return TypedResults.Ok(new TrainResult(await grains.GetGrain<IContentAdminGrain>(0).Train(raw, @class == "spam", Actor(http))));
    }

    private static async Task<Results<Ok<ClassifyResult>, ProblemHttpResult>> Classify(HttpContext http, string? mailbox, IGrainFactory grains)
    {
        string? owner = null;
        if (mailbox is not null)
        {
            if (!RouteNames.TryAddress(mailbox, out var a, out var problem)) return problem;
            owner = a;
        }
        if (await ReadMessage(http) is not { } raw) return ApiProblem.BadRequest("Empty or oversized message", $"1 to {MaxMessageBytes} bytes");
        var c = await grains.GetGrain<IContentAdminGrain>(0).Classify(raw, owner);
        return TypedResults.Ok(new ClassifyResult(c.Probability, c.Clues, c.Tokens, c.Symbol, c.Weight, c.ElapsedMicroseconds));
    }

    /// <summary>DELETE /spam/model: the global model forgotten (token counts and learned messages), audited as spam.reset;
    /// the answer is what it had learned. The users' own models are not touched.</summary>
    private static async Task<Ok<ModelSizeBody>> Reset(HttpContext http, IGrainFactory grains)
    {
        var removed = await grains.GetGrain<IContentAdminGrain>(0).ResetGlobal(Actor(http));
        return TypedResults.Ok(new ModelSizeBody(removed.SpamMessages, removed.HamMessages));
    }

    private static async Task<Results<Ok<ModelSizeBody>, ProblemHttpResult>> Model(string? mailbox, IGrainFactory grains)
    {
        string? owner = null;
        if (mailbox is not null)
        {
            if (!RouteNames.TryAddress(mailbox, out var a, out var problem)) return problem;
            owner = a;
        }
        var size = await grains.GetGrain<IContentAdminGrain>(0).ModelSize(owner);
        return TypedResults.Ok(new ModelSizeBody(size.SpamMessages, size.HamMessages));
    }

    private static async Task<Results<Ok<List<SenderListLine>>, ProblemHttpResult>> DomainLists(string domain, IGrainFactory grains) =>
        RouteNames.TryDomain(domain, out var name, out var problem) ? await Lines(grains, name) : problem;

    private static async Task<Results<Created<SenderListLine>, Ok<SenderListLine>, ProblemHttpResult>> DomainAdd(string domain, SenderListBody body, HttpContext http, IGrainFactory grains) =>
        RouteNames.TryDomain(domain, out var name, out var problem) ? await Add(grains, name, body, http) : problem;

    private static async Task<Results<NoContent, ProblemHttpResult>> DomainRemove(string domain, string? list, string? entry, HttpContext http, IGrainFactory grains) =>
        RouteNames.TryDomain(domain, out var name, out var problem) ? await Remove(grains, name, list, entry, http) : problem;

    private static async Task<Results<Ok<List<SenderListLine>>, ProblemHttpResult>> AccountLists(string address, IGrainFactory grains) =>
        RouteNames.TryAddress(address, out var a, out var problem) ? await Lines(grains, a) : problem;

    private static async Task<Results<Created<SenderListLine>, Ok<SenderListLine>, ProblemHttpResult>> AccountAdd(string address, SenderListBody body, HttpContext http, IGrainFactory grains) =>
        RouteNames.TryAddress(address, out var a, out var problem) ? await Add(grains, a, body, http) : problem;

    private static async Task<Results<NoContent, ProblemHttpResult>> AccountRemove(string address, string? list, string? entry, HttpContext http, IGrainFactory grains) =>
        RouteNames.TryAddress(address, out var a, out var problem) ? await Remove(grains, a, list, entry, http) : problem;

    private static async Task<Results<Ok<List<SenderListLine>>, ProblemHttpResult>> Lines(IGrainFactory grains, string scope) =>
        TypedResults.Ok((await grains.GetGrain<IContentAdminGrain>(0).Lists(scope))
            .Select(i => new SenderListLine(i.Allow ? "allow" : "block", i.Entry, i.CreatedAt)).ToList());

    private static async Task<Results<Created<SenderListLine>, Ok<SenderListLine>, ProblemHttpResult>> Add(IGrainFactory grains, string scope, SenderListBody body, HttpContext http)
    {
        if (body.List is not ("allow" or "block")) return ApiProblem.BadRequest("list must be allow or block");
        if (GrainMail.Contracts.MailAddress.Normalize(body.Entry) is null && !IsDomain(body.Entry))
            return ApiProblem.BadRequest("entry must be an address or a domain", body.Entry);
        var entry = body.Entry!.Trim().TrimEnd('.').ToLowerInvariant();
        var added = await grains.GetGrain<IContentAdminGrain>(0).AddToList(scope, body.List == "allow", entry, Actor(http));
        var line = new SenderListLine(body.List, entry, DateTimeOffset.UtcNow);
        return added ? TypedResults.Created((string?)null, line) : TypedResults.Ok(line);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Remove(IGrainFactory grains, string scope, string? list, string? entry, HttpContext http)
    {
        if (list is not ("allow" or "block")) return ApiProblem.BadRequest("list must be allow or block");
        return await grains.GetGrain<IContentAdminGrain>(0).RemoveFromList(scope, list == "allow", entry ?? "", Actor(http))
            ? TypedResults.NoContent() : ApiProblem.NotFound("No such entry", entry);
    }

    private static bool IsDomain(string? text) =>
        text?.Trim().TrimEnd('.') is { Length: > 0 and <= 253 } d && d.Contains('.') && !d.Contains('@')
        && d.Split('.').All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsLetterOrDigit(c) || c == '-'));

    private static async Task<Results<Ok<DigestBody>, ProblemHttpResult>> GetDigest(string domain, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        var s = await grains.GetGrain<IQuarantineDigestGrain>(name).Get();
        return TypedResults.Ok(new DigestBody(s.Interval.TotalMinutes, s.LastRun));
    }

    private static async Task<Results<Ok<DigestBody>, ProblemHttpResult>> PutDigest(string domain, DigestBody body, IGrainFactory grains)
    {
        if (!RouteNames.TryDomain(domain, out var name, out var problem)) return problem;
        if (body.IntervalMinutes is not (>= 1 and <= 60 * 24 * 31)) return ApiProblem.BadRequest("intervalMinutes must be between 1 and 44640");
        var s = await grains.GetGrain<IQuarantineDigestGrain>(name).SetInterval(TimeSpan.FromMinutes(body.IntervalMinutes.Value));
        return TypedResults.Ok(new DigestBody(s.Interval.TotalMinutes, s.LastRun));
    }

    private static async Task<Results<Ok<DigestSent>, ProblemHttpResult>> SendDigest(string domain, IGrainFactory grains) =>
        RouteNames.TryDomain(domain, out var name, out var problem)
            ? TypedResults.Ok(new DigestSent(await grains.GetGrain<IQuarantineDigestGrain>(name).SendNow()))
            : problem;

    private static async Task<Ok<List<QuarantineLine>>> MyQuarantine(ClaimsPrincipal user, IGrainFactory grains) =>
        TypedResults.Ok((await grains.GetGrain<IQuarantineGrain>(0).List(user.Address(), null))
            .Select(q => new QuarantineLine(q.Id, q.Mailbox, q.Sender, q.Size, q.Score, q.Symbols, q.ReceivedAt)).ToList());

    private static async Task<Results<Accepted, ProblemHttpResult>> MyRelease(Guid id, ClaimsPrincipal user, HttpContext http, IGrainFactory grains) =>
        await grains.GetGrain<IContentAdminGrain>(0).ReleaseOwn(user.Address(), id, Actor(http))
            ? TypedResults.Accepted((string?)null) : ApiProblem.NotFound("No such held message", id.ToString());

    private static async Task<Results<NoContent, ProblemHttpResult>> MyDelete(Guid id, ClaimsPrincipal user, HttpContext http, IGrainFactory grains) =>
        await grains.GetGrain<IContentAdminGrain>(0).DeleteOwn(user.Address(), id, Actor(http))
            ? TypedResults.NoContent() : ApiProblem.NotFound("No such held message", id.ToString());

    private static async Task<byte[]?> ReadMessage(HttpContext http)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > MaxMessageBytes) return null;
        }
        return buffer.Length == 0 ? null : buffer.ToArray();
    }

    private static SpamActor Actor(HttpContext http) => new(
        http.User.FindFirst(ClaimTypes.Name)?.Value ?? http.User.Identity?.Name ?? "?",
        http.User.FindFirst(ClaimTypes.Role)?.Value ?? "user",
        http.Connection.RemoteIpAddress?.ToString() ?? "");
}
