using System.Text.Json.Nodes;
using GrainMail.Contracts.Audit;
using GrainMail.Contracts.Sieve;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Common.Audit;

/// <summary>
/// One change to a user's Sieve scripts, from whichever channel made it: the user API
/// (<c>/api/v1/me/sieve</c>, channel <c>http</c>), ManageSieve (RFC 5804, <c>managesieve</c>) or JMAP
/// VacationResponse/set (<c>jmap</c>, the <c>jmap-vacation</c> script).
/// </summary>
/// <param name="Actor">The account whose credentials were checked.</param>
/// <param name="Mailbox">The account whose scripts changed (differs from the actor on a delegated login).</param>
/// <param name="Action"><c>sieve.put</c>, <c>sieve.activate</c>, <c>sieve.deactivate</c>, <c>sieve.delete</c> or <c>sieve.rename</c>.</param>
/// <param name="NewName">The new name of a rename.</param>
public sealed record SieveChange(string Actor, string Mailbox, string Channel, string ClientIp, string Action, string? Script, SieveOpStatus Status,
    string? NewName = null);

/// <summary>
/// The audit entry of a Sieve change, the same on every channel: actor, role <c>user</c>, client IP,
/// action, target <c>ADDRESS script=NAME</c>, the mailbox's domain, and the channel in the detail.
/// The gateways hold no database: the entry goes to the silo through <see cref="IAuditGrain"/>, the
/// way the HTTP gateway's own audit recorder writes. A user's own filter is not an admin action, but
/// a filter can forward or discard mail, so who changed it, from where and how is worth keeping.
/// </summary>
public static class SieveChangeAudit
{
    public const string Http = "http";
    public const string ManageSieve = "managesieve";
    public const string Jmap = "jmap";

    public static string Target(string mailbox, string? script) => script is null ? mailbox : $"{mailbox} script={script}";

    public static string? DomainOf(string address) => address.LastIndexOf('@') is var at and > 0 ? address[(at + 1)..] : null;

    public static AuditWrite Entry(SieveChange change)
    {
        var detail = new JsonObject
        {
            ["account"] = change.Mailbox,
            ["channel"] = change.Channel,
            ["status"] = change.Status.ToString(),
        };
        if (change.NewName is not null) detail["newName"] = change.NewName;
        return new AuditWrite(change.Actor, "user", change.ClientIp, change.Action, Target(change.Mailbox, change.Script),
            DomainOf(change.Mailbox), change.Status == SieveOpStatus.Ok ? "ok" : "failed", detail.ToJsonString());
    }

    /// <summary>Appends the entry; a failed write is logged, never turned into an error for a change already made.</summary>
    public static async Task RecordAsync(IGrainFactory grains, ILogger logger, SieveChange change)
    {
        var entry = Entry(change);
        try
        {
            await grains.GetGrain<IAuditGrain>(0).Append(entry);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Audit entry not written: {Actor} {Action} {Target} {Result}", entry.Actor, entry.Action, entry.Target, entry.Result);
        }
    }
}
