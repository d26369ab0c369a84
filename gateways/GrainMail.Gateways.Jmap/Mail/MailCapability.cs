using System.Text.Json.Nodes;
using GrainMail.Gateways.Jmap.Methods;
using GrainMail.Gateways.Jmap.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>urn:ietf:params:jmap:mail (RFC 8621 1.3): the capability objects; the methods are in their own families.</summary>
public sealed class MailCapability : IJmapMethods
{
    public const string Uri = "urn:ietf:params:jmap:mail";

    /// <summary>RFC 8621 2: mailbox names are limited; IMAP's own limit on a folder name is the real one.</summary>
    public const int MaxSizeMailboxName = 255;

    public string Capability => Uri;

    public JsonObject SessionCapability(JmapLimits limits) => [];

    public JsonObject AccountCapability(JmapAccount account) => new()
    {
        ["maxMailboxesPerEmail"] = null, // copies of one message in several folders share its Email id (RFC 8474 EMAILID)
        ["maxMailboxDepth"] = null,
        ["maxSizeMailboxName"] = MaxSizeMailboxName,
        ["maxSizeAttachmentsPerEmail"] = 50L * 1024 * 1024,
        ["emailQuerySortOptions"] = new JsonArray("receivedAt", "sentAt", "size", "from", "to", "subject", "hasKeyword"),
        ["mayCreateTopLevelMailbox"] = true,
    };

    public IReadOnlyDictionary<string, JmapMethodHandler> Methods { get; } = new Dictionary<string, JmapMethodHandler>();
}

public static class MailRegistration
{
    public static void AddJmapMail(IServiceCollection services)
    {
        services.AddSingleton<MailViews>();
        services.AddSingleton<ThreadIndex>();
        services.AddSingleton<EmailStore>();
        services.AddSingleton<UploadBlobs>();
        services.AddSingleton<BlobResolver>();
        services.AddSingleton<MailAccess>();
        services.AddJmapMethods<MailCapability>();
        services.AddJmapMethods<MailboxMethods>();
        services.AddJmapMethods<EmailMethods>();
    }
}
