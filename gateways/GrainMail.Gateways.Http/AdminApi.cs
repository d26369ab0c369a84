using GrainMail.Contracts.Outbound;
using System.Text.Json;
using GrainMail.Contracts;
using GrainMail.Contracts.Intake;
using GrainMail.Contracts.Operations;
using GrainMail.Gateways.Common.Intake;
using GrainMail.Operations.Spool;
using GrainMail.Contracts.Accounts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Common.Messages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MimeKit;

namespace GrainMail.Gateways.Http;

public sealed record CreateDomainRequest(string? Name, string? HomeRegion, long? DefaultQuotaBytes, long? MaxMessageBytes);
public sealed record CreateAccountRequest(string? LocalPart, string? Password, string? DisplayName, long? QuotaBytes);
public sealed record PasswordRequest(string? Password);
public sealed record AliasRequest(string? Alias, List<string>? Targets);
public sealed record AppPasswordRequest(string? Name);
public sealed record EnabledRequest(bool? Enabled);
public sealed record SubmitRequest(string? From, List<string>? To, string? Raw);

/// <summary>Settings the admin API needs from its host.</summary>
public sealed class AdminApiOptions
{
    public string DefaultRegion { get; set; } = "local";

    /// <summary>Largest message the API accepts when the recipient domains set no lower limit.</summary>
    public long MaxMessageBytes { get; set; } = 50L * 1024 * 1024;

    /// <summary>The configured egress links (for GET /outbound/links).</summary>
    public IReadOnlyList<AdminLink> Links { get; set; } = [];
}

public sealed record AdminLink(string Name, string Region, string Kind, string? Host);

/// <summary>
/// The JSON admin API (<c>/api/v1</c>), health endpoints, and the bearer-token check. Errors are
/// RFC 9457 problem documents: 400 bad input, 401 no token, 403 wrong token, 404 unknown domain
/// or account, 409 duplicate, 413 message too large.
/// </summary>
public static class AdminApi
{
    public static WebApplication MapGrainMailAdmin(this WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", async (IReadinessCheck check, CancellationToken ct) =>
        {
            var (ready, detail) = await check.CheckAsync(ct);
            return ready ? Results.Text("ready\n") : Results.Text(detail + "\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });

        // MTA-STS policy (RFC 8461 3.2), served for https://mta-sts.<domain>/ by whatever terminates
        // TLS in front of this listener: "testing" until the operator has checked the records.
        app.MapGet("/.well-known/mta-sts.txt", async (HttpContext http, IGrainFactory grains) =>
        {
            var host = http.Request.Host.Host;
            var domain = host.StartsWith("mta-sts.", StringComparison.OrdinalIgnoreCase) ? MailAddress.NormalizeDomain(host[8..]) : null;
            var records = domain is null ? null : await grains.GetGrain<IDomainGrain>(domain).GetDnsRecords();
            if (records is null) return Results.NotFound();
            var mx = records.First(r => r.Type == "MX").Value.Split(' ')[1].TrimEnd('.');
            return Results.Text($"version: STSv1\nmode: testing\nmx: {mx}\nmax_age: 86400\n", "text/plain");
        });

        var api = app.MapGroup("/api/v1");
        api.AddEndpointFilter(async (ctx, next) =>
        {
            var token = ctx.HttpContext.RequestServices.GetRequiredService<AdminToken>();
            var header = ctx.HttpContext.Request.Headers.Authorization.ToString();
            if (string.IsNullOrEmpty(header) || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                ctx.HttpContext.Response.Headers.WWWAuthenticate = "Bearer realm=\"grainmail-admin\"";
                return Problem(StatusCodes.Status401Unauthorized, "Missing bearer token");
            }
            if (!token.Matches(header["Bearer ".Length..].Trim())) return Problem(StatusCodes.Status403Forbidden, "Wrong token");
            return await next(ctx);
        });

        MapDomains(api);
        MapAccounts(api);
        MapMessages(api);
        MapOutbound(api);
        api.MapDeadLetters();
        api.MapQuota();
        return app;
    }

    private static void MapDomains(RouteGroupBuilder api)
    {
        api.MapGet("/domains/{name}/dns", async (string name, IGrainFactory grains) =>
        {
            var d = MailAddress.NormalizeDomain(name);
            if (d is null) return Problem(400, "Invalid domain name", name);
            var records = await grains.GetGrain<IDomainGrain>(d).GetDnsRecords();
            return records is null ? Problem(404, "No such domain", d) : Results.Ok(records.Select(Record));
        });
        api.MapGet("/domains/{name}/dns/check", async (string name, IGrainFactory grains) =>
        {
            var d = MailAddress.NormalizeDomain(name);
            if (d is null) return Problem(400, "Invalid domain name", name);
            var checks = await grains.GetGrain<IDomainGrain>(d).CheckDnsRecords();
            return checks is null ? Problem(404, "No such domain", d) : Results.Ok(new
            {
                ok = checks.All(c => c.Status == "ok"),
                records = checks.Select(c => new { record = Record(c.Record), status = c.Status, found = c.Found }),
            });
        });
        api.MapPost("/domains/{name}/dkim/rotate", async (string name, IGrainFactory grains) =>
        {
            var d = MailAddress.NormalizeDomain(name);
            if (d is null) return Problem(400, "Invalid domain name", name);
            var records = await grains.GetGrain<IDomainGrain>(d).RotateDkim();
            return records is null ? Problem(404, "No such domain", d) : Results.Ok(records.Select(Record));
        });

        api.MapPost("/domains", async (JsonElement body, IGrainFactory grains, AdminApiOptions options) =>
        {
            if (!TryBind<CreateDomainRequest>(body, out var req)) return BadJson();
            var name = MailAddress.NormalizeDomain(req.Name);
            if (name is null) return Problem(400, "Invalid domain name", $"'{req.Name}' is not a valid domain name");
            if (req.DefaultQuotaBytes is <= 0 || req.MaxMessageBytes is <= 0) return Problem(400, "Limits must be positive");
            var settings = DomainSettings.Default(string.IsNullOrWhiteSpace(req.HomeRegion) ? options.DefaultRegion : req.HomeRegion.Trim()) with
            {
                DefaultQuotaBytes = req.DefaultQuotaBytes ?? DomainSettings.DefaultQuota,
                MaxMessageBytes = req.MaxMessageBytes ?? DomainSettings.DefaultMaxMessage,
            };
            var status = await grains.GetGrain<IDomainGrain>(name).Create(settings);
            if (status == DomainOpStatus.AlreadyExists) return Problem(409, "Domain exists", name);
            var info = await grains.GetGrain<IDomainGrain>(name).GetInfo();
            return Results.Created($"/api/v1/domains/{name}", DomainJson(info!));
        });

        api.MapGet("/domains", async (IGrainFactory grains) =>
        {
            var list = await grains.GetGrain<IAdminViewGrain>(0).ListDomains();
            return Results.Ok(list.Select(d => new { name = d.Name, homeRegion = d.HomeRegion, createdAt = d.CreatedAt }));
        });

        api.MapGet("/domains/{domain}", async (string domain, IGrainFactory grains) =>
        {
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            var info = await grains.GetGrain<IDomainGrain>(name).GetInfo();
            return info is null ? Problem(404, "No such domain", name) : Results.Ok(DomainJson(info));
        });

        api.MapDelete("/domains/{domain}", async (string domain, IGrainFactory grains) =>
        {
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            return await grains.GetGrain<IDomainGrain>(name).Delete() switch
            {
                DomainOpStatus.Ok => Results.NoContent(),
                DomainOpStatus.NotEmpty => Problem(409, "Domain still has accounts", "Delete its accounts first"),
                _ => Problem(404, "No such domain", name),
            };
        });

        api.MapPost("/domains/{domain}/accounts", async (string domain, JsonElement body, IGrainFactory grains) =>
        {
            if (!TryBind<CreateAccountRequest>(body, out var req)) return BadJson();
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            var lp = MailAddress.NormalizeLocalPart(req.LocalPart);
            if (lp is null) return Problem(400, "Invalid address", $"'{req.LocalPart}' is not a valid local part");
            if (req.Password is null || req.Password.Length < 8) return Problem(400, "Password too short", "At least 8 characters");
            if (req.QuotaBytes is <= 0) return Problem(400, "Quota must be positive");
            var result = await grains.GetGrain<IDomainGrain>(name).CreateAccount(new NewAccount(lp, req.Password, req.DisplayName, req.QuotaBytes));
            return result.Status switch
            {
                DomainOpStatus.Ok => Results.Created($"/api/v1/accounts/{Uri.EscapeDataString($"{lp}@{name}")}", await AccountJson(grains, $"{lp}@{name}")),
                DomainOpStatus.NotFound => Problem(404, "No such domain", name),
                DomainOpStatus.AlreadyExists => Problem(409, "Address exists", $"{lp}@{name} is an account or alias"),
                _ => Problem(400, "Invalid account", result.Detail),
            };
        });

        api.MapGet("/domains/{domain}/accounts", async (string domain, IGrainFactory grains) =>
        {
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            var g = grains.GetGrain<IDomainGrain>(name);
            if (await g.GetInfo() is null) return Problem(404, "No such domain", name);
            var list = new List<object>();
            foreach (var address in await g.ListAccounts()) list.Add(await AccountJson(grains, address));
            return Results.Ok(list);
        });

        api.MapPost("/domains/{domain}/aliases", async (string domain, JsonElement body, IGrainFactory grains) =>
        {
            if (!TryBind<AliasRequest>(body, out var req)) return BadJson();
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            var lp = MailAddress.NormalizeLocalPart(req.Alias?.Contains('@') == true ? req.Alias[..req.Alias.IndexOf('@')] : req.Alias);
            if (lp is null) return Problem(400, "Invalid alias", req.Alias);
            if (req.Targets is not { Count: > 0 }) return Problem(400, "An alias needs at least one target");
            var bad = req.Targets.Where(t => MailAddress.Normalize(t) is null).ToList();
            if (bad.Count > 0) return Problem(400, "Invalid target address", string.Join(", ", bad));
            return await grains.GetGrain<IDomainGrain>(name).SetAlias(lp, req.Targets) switch
            {
                DomainOpStatus.Ok => Results.Created($"/api/v1/domains/{name}/aliases/{Uri.EscapeDataString(lp)}",
                    new { address = $"{lp}@{name}", targets = req.Targets.Select(t => MailAddress.Normalize(t)).Distinct() }),
                DomainOpStatus.NotFound => Problem(404, "No such domain", name),
                DomainOpStatus.AlreadyExists => Problem(409, "An account has that address", $"{lp}@{name}"),
                _ => Problem(400, "Invalid alias", "An alias cannot point to itself"),
            };
        });

        api.MapGet("/domains/{domain}/aliases", async (string domain, IGrainFactory grains) =>
        {
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            var g = grains.GetGrain<IDomainGrain>(name);
            if (await g.GetInfo() is null) return Problem(404, "No such domain", name);
            return Results.Ok((await g.ListAliases()).Select(a => new { address = a.Address, targets = a.Targets }));
        });

        api.MapDelete("/domains/{domain}/aliases/{alias}", async (string domain, string alias, IGrainFactory grains) =>
        {
            var name = MailAddress.NormalizeDomain(domain);
            if (name is null) return Problem(400, "Invalid domain name");
            return await grains.GetGrain<IDomainGrain>(name).DeleteAlias(alias) == DomainOpStatus.Ok
                ? Results.NoContent()
                : Problem(404, "No such alias", $"{alias}@{name}");
        });
    }

    private static void MapAccounts(RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{address}", async (string address, IGrainFactory grains) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            var info = await grains.GetGrain<IAccountGrain>(a).GetInfo();
            return info is null ? Problem(404, "No such account", a) : Results.Ok(await AccountJson(grains, a));
        });

        api.MapDelete("/accounts/{address}", async (string address, IGrainFactory grains) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            return await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).DeleteAccount(MailAddress.LocalPartOf(a)) == DomainOpStatus.Ok
                ? Results.NoContent()
                : Problem(404, "No such account", a);
        });

        api.MapPut("/accounts/{address}/password", async (string address, JsonElement body, IGrainFactory grains) =>
        {
            if (!TryBind<PasswordRequest>(body, out var req)) return BadJson();
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            if (req.Password is null || req.Password.Length < 8) return Problem(400, "Password too short", "At least 8 characters");
            return await grains.GetGrain<IAccountGrain>(a).SetPassword(req.Password)
                ? Results.NoContent()
                : Problem(404, "No such account", a);
        });

        api.MapPut("/accounts/{address}/enabled", async (string address, JsonElement body, IGrainFactory grains) =>
        {
            if (!TryBind<EnabledRequest>(body, out var req) || req.Enabled is null) return Problem(400, "Body must be {\"enabled\": true|false}");
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            return await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).SetAccountEnabled(MailAddress.LocalPartOf(a), req.Enabled.Value) == DomainOpStatus.Ok
                ? Results.NoContent()
                : Problem(404, "No such account", a);
        });

        api.MapPost("/accounts/{address}/app-passwords", async (string address, JsonElement body, IGrainFactory grains) =>
        {
            if (!TryBind<AppPasswordRequest>(body, out var req)) return BadJson();
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            var name = req.Name?.Trim();
            if (string.IsNullOrEmpty(name) || name.Length > 64 || name.Any(char.IsControl)) return Problem(400, "Invalid app password name");
            var account = grains.GetGrain<IAccountGrain>(a);
            var info = await account.GetInfo();
            if (info is null) return Problem(404, "No such account", a);
            if (info.AppPasswords.Contains(name)) return Problem(409, "App password exists", name);
            var password = await account.CreateAppPassword(name);
            return password is null
                ? Problem(404, "No such account", a)
                : Results.Created($"/api/v1/accounts/{Uri.EscapeDataString(a)}/app-passwords/{Uri.EscapeDataString(name)}", new { name, password });
        });

        api.MapDelete("/accounts/{address}/app-passwords/{name}", async (string address, string name, IGrainFactory grains) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            return await grains.GetGrain<IAccountGrain>(a).RevokeAppPassword(name) switch
            {
                AppPasswordStatus.Revoked => Results.NoContent(),
                AppPasswordStatus.NotFound => Problem(404, "No such app password", name),
                _ => Problem(404, "No such account", a),
            };
        });

        // Where an account's grains run and where they belong (two-region operation, drills).
        api.MapGet("/accounts/{address}/placement", async (string address, IGrainFactory grains) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            var domain = await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(a)).GetInfo();
            if (domain is null) return Problem(404, "No such domain", MailAddress.DomainOf(a));
            var locations = await Task.WhenAll(
                grains.GetGrain<IDomainGrain>(domain.Name).Locate(),
                grains.GetGrain<IAccountGrain>(a).Locate(),
                grains.GetGrain<IMailboxGrain>(a).Locate());
            object Where(GrainMail.Contracts.Regions.GrainLocation l) => new { silo = l.Silo, region = l.Region };
            return Results.Ok(new
            {
                address = a,
                homeRegion = domain.Settings.HomeRegion,
                domain = Where(locations[0]),
                account = Where(locations[1]),
                mailbox = Where(locations[2]),
            });
        });

        api.MapGet("/accounts/{address}/mailbox", async (string address, IGrainFactory grains) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            var mailbox = grains.GetGrain<IMailboxGrain>(a);
            if (!await mailbox.Exists()) return Problem(404, "No such account", a);
            var quota = await mailbox.GetQuota();
            var folders = await mailbox.ListFolders();
            return Results.Ok(new
            {
                address = a,
                quota = new { limitBytes = quota.LimitBytes, usedBytes = quota.UsedBytes, messages = quota.Messages },
                folders = folders.Select(f => new
                {
                    name = f.Name,
                    specialUse = f.SpecialUse == SpecialUse.None ? null : "\\" + f.SpecialUse,
                    messages = f.Messages,
                    unseen = f.Unseen,
                    recent = f.Recent,
                    bytes = f.Bytes,
                    uidValidity = f.UidValidity,
                    uidNext = f.UidNext,
                    highestModSeq = f.HighestModSeq,
                    subscribed = f.Subscribed,
                }),
            });
        });
    }

    private static object Record(DnsRecord r) => new { type = r.Type, name = r.Name, value = r.Value, purpose = r.Purpose };

    private static void MapOutbound(RouteGroupBuilder api)
    {
        // Where a destination's route runs (the region its mail leaves from).
        api.MapGet("/outbound/{destination}/placement", async (string destination, IGrainFactory grains) =>
        {
            var where = await grains.GetGrain<IOutboundRouteGrain>(destination.Trim().ToLowerInvariant()).Locate();
            return Results.Ok(new { destination, silo = where.Silo, region = where.Region });
        });

        // What waits to leave, per destination domain, and why it waits.
        api.MapGet("/outbound", async (IGrainFactory grains) =>
        {
            var result = new List<object>();
            foreach (var destination in await grains.GetGrain<IAdminViewGrain>(0).OutboundDestinations())
            {
                var queue = await grains.GetGrain<IOutboundRouteGrain>(destination).GetQueue();
                result.Add(new
                {
                    destination,
                    messages = queue.Select(q => new
                    {
                        id = q.Id,
                        sender = q.Sender,
                        recipients = q.Recipients,
                        size = q.Size,
                        receivedAt = q.ReceivedAt,
                        attempts = q.Attempts,
                        nextAttempt = q.NextAttempt,
                        lastError = q.LastError,
                    }),
                });
            }
            return Results.Ok(result);
        });

        // Egress links with the health every route sees.
        api.MapGet("/outbound/links", async (IGrainFactory grains, AdminApiOptions options) =>
        {
            var result = new List<object>();
            foreach (var link in options.Links)
            {
                var h = await grains.GetGrain<ILinkHealthGrain>(link.Name).GetHealth();
                result.Add(new
                {
                    name = link.Name,
                    region = link.Region,
                    kind = link.Kind,
                    host = link.Host,
                    down = h.Down,
                    downUntil = h.DownUntil,
                    consecutiveFailures = h.ConsecutiveFailures,
                    successRate = Math.Round(h.SuccessRate, 3),
                });
            }
            return Results.Ok(result);
        });

        // The send log of one account: every attempt for every recipient, newest first.
        api.MapGet("/accounts/{address}/sent-log", async (string address, IGrainFactory grains, int? limit) =>
        {
            var a = MailAddress.Normalize(address);
            if (a is null) return Problem(400, "Invalid address", address);
            var log = await grains.GetGrain<IAdminViewGrain>(0).SentLog(a, Math.Clamp(limit ?? 100, 1, 1000));
            return Results.Ok(log.Select(l => new
            {
                messageId = l.MessageId,
                recipient = l.Recipient,
                at = l.At,
                link = l.Link,
                remote = l.Remote,
                outcome = l.Outcome,
                reply = l.Reply,
            }));
        });
    }

    private static void MapMessages(RouteGroupBuilder api)
    {
        api.MapPost("/messages", async (HttpContext http, IGrainFactory grains, MessageIntake intake, AdminApiOptions options) =>
        {
            // Base64 of the largest message, plus JSON around it.
            http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = options.MaxMessageBytes * 4 / 3 + 1024 * 1024;
            SubmitRequest? req;
            try
            {
                req = await JsonSerializer.DeserializeAsync<SubmitRequest>(http.Request.Body, JsonOptions, http.RequestAborted);
            }
            catch (JsonException)
            {
                return BadJson();
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Problem(413, "Message too large", $"The limit is {options.MaxMessageBytes} bytes");
            }
            if (req is null) return BadJson();

            string? from = null;
            if (!string.IsNullOrEmpty(req.From))
            {
                from = MailAddress.Normalize(req.From);
                if (from is null) return Problem(400, "Invalid sender address", req.From);
            }
            if (req.To is not { Count: > 0 }) return Problem(400, "At least one recipient is required");
            if (req.To.Count > 1000) return Problem(400, "Too many recipients", "At most 1000");
            var bad = req.To.Where(t => MailAddress.Normalize(t) is null).ToList();
            if (bad.Count > 0) return Problem(400, "Invalid recipient address", string.Join(", ", bad));

            byte[] raw;
            try
            {
                raw = Convert.FromBase64String(req.Raw ?? "");
            }
            catch (FormatException)
            {
                return Problem(400, "Malformed base64", "'raw' must be the base64 of an RFC 5322 message");
            }
            // One rule for message text at every way in: CRLF line ends, no NUL, bounded header section.
            var (normalized, textProblem) = MessageText.Normalize(raw);
            if (normalized is null) return MessageText.IsHeaderLimit(textProblem) ? Problem(413, "Message header too large", MessageText.Describe(textProblem)) : Problem(400, "Malformed message", MessageText.Describe(textProblem));
            raw = normalized;
            if (MessageCheck(raw) is { } problem) return Problem(400, "Malformed message", problem);

            var mailboxes = new List<string>();
            var limit = options.MaxMessageBytes;
            foreach (var to in req.To)
            {
                var r = await RecipientPolicy.ResolveAsync(grains, to, raw.Length);
                if (!r.Hosted) return Problem(400, "Recipient not hosted here", $"{to}: outbound delivery is not accepted on this endpoint");
                switch (r.Status)
                {
                    case RecipientStatus.NoSuchUser: return Problem(404, "No such recipient", to);
                    case RecipientStatus.Disabled: return Problem(409, "Recipient disabled", $"{to}: the account is disabled and receives no mail");
                    case RecipientStatus.MailboxFull: return Problem(507, "Mailbox full", $"{to}: the mailbox has no room for {raw.Length} bytes");
                    case RecipientStatus.TooLarge: return Problem(413, "Message too large", $"{raw.Length} bytes; the limit is {r.MaxMessageBytes}");
                }
                if (r.External.Count > 0) return Problem(400, "Recipient forwards outside", $"{to}: outbound delivery is not accepted on this endpoint");
                mailboxes.AddRange(r.Mailboxes);
                limit = Math.Min(limit, r.MaxMessageBytes);
            }
            if (raw.Length > limit) return Problem(413, "Message too large", $"{raw.Length} bytes; the limit is {limit}");

            var receipt = await intake.SubmitAsync(new SubmissionEnvelope(from, mailboxes), new MessageContent(raw), http.RequestAborted);
            return Results.Accepted(value: new { messageId = receipt.MessageId, deliveries = receipt.Events, receivedAt = receipt.ReceivedAt });
        });
    }

    /// <summary>Why <paramref name="raw"/> is not an acceptable RFC 5322 message, or null.</summary>
    private static string? MessageCheck(byte[] raw)
    {
        if (raw.Length == 0) return "empty message";
        if (Array.IndexOf(raw, (byte)0) >= 0) return "NUL bytes are not allowed";
        try
        {
            using var ms = new MemoryStream(raw, writable: false);
            var parser = new MimeParser(ms, MimeFormat.Entity);
            var headers = parser.ParseHeaders();
            if (headers.Count == 0) return "no header fields";
        }
        catch (FormatException e)
        {
            return e.Message;
        }
        return null;
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static bool TryBind<T>(JsonElement body, out T value) where T : class
    {
        value = null!;
        if (body.ValueKind != JsonValueKind.Object) return false;
        try
        {
            value = body.Deserialize<T>(JsonOptions)!;
            return value is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static IResult BadJson() => Problem(400, "Malformed JSON body");

    private static IResult Problem(int status, string title, string? detail = null) =>
        Results.Problem(statusCode: status, title: title, detail: detail);

    private static object DomainJson(DomainInfo d) => new
    {
        name = d.Name,
        homeRegion = d.Settings.HomeRegion,
        defaultQuotaBytes = d.Settings.DefaultQuotaBytes,
        maxMessageBytes = d.Settings.MaxMessageBytes,
        accounts = d.AccountCount,
        aliases = d.AliasCount,
        createdAt = d.CreatedAt,
    };

    private static async Task<object> AccountJson(IGrainFactory grains, string address)
    {
        var info = await grains.GetGrain<IAccountGrain>(address).GetInfo();
        return new
        {
            address,
            displayName = info?.DisplayName,
            enabled = info?.Enabled ?? false,
            quotaBytes = info?.QuotaBytes ?? 0,
            appPasswords = info?.AppPasswords ?? [],
            createdAt = info?.CreatedAt,
        };
    }
}
