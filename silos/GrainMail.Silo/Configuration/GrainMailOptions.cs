using GrainMail.Gateways.Common.Messages;
using GrainMail.Gateways.Http;
using GrainMail.Gateways.Imap;
using GrainMail.Gateways.Pop3;
using GrainMail.Gateways.Smtp;
using GrainMail.Grains.Domains;
using GrainMail.Grains.Intake;
using GrainMail.Outbound;
using Microsoft.Extensions.Options;

namespace GrainMail.Silo.Configuration;

/// <summary>
/// Every settings class of the host, bound from its configuration section and validated
/// (DataAnnotations ranges and each class's own cross-checks) at start: a value out of range
/// stops the process with a message naming the setting. The classes are also registered as
/// themselves, so the services that take them stay as they are.
/// </summary>
public static class GrainMailOptions
{
    public const string DirectorySection = "GrainMail:Directory";

    public static IServiceCollection AddGrainMailOptions(this IServiceCollection services, IConfiguration configuration)
    {
        // What other sections take from the host's settings and the message limits is read from
        // configuration as it is, not through their validated options: a problem there is
        // reported once, by its own section, and does not hide the problems of the others.
        GrainMailSettings Host() => SiloSetup.Settings(configuration);
        MessageLimits Limits() => configuration.GetSection(MessageLimits.Section).Get<MessageLimits>() ?? new MessageLimits();

        Validated<GrainMailSettings>(services, GrainMailSettings.Section).Bind(configuration.GetSection(GrainMailSettings.Section));
        Validated<MessageLimits>(services, MessageLimits.Section).Bind(configuration.GetSection(MessageLimits.Section));

        Validated<SmtpOptions>(services, SmtpOptions.Section)
            .Configure(o => o.SpoolDirectory = SpoolDirectory(Host()))
            .Bind(configuration.GetSection(SmtpOptions.Section))
            .PostConfigure(o =>
            {
                o.HostName = OrMachineName(o.HostName);
                o.Messages = Limits();
            });
        Validated<ImapOptions>(services, ImapOptions.Section)
            .Bind(configuration.GetSection(ImapOptions.Section))
            .PostConfigure(o =>
            {
                var limits = Limits();
                o.HostName = OrMachineName(o.HostName);
                o.AppendLimit = limits.MaxMessageBytes;
                o.MessageText = limits.Text;
            });
        Validated<Pop3Options>(services, Pop3Options.Section).Bind(configuration.GetSection(Pop3Options.Section));
        Validated<GrainMail.Gateways.ManageSieve.ManageSieveOptions>(services, GrainMail.Gateways.ManageSieve.ManageSieveOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Gateways.ManageSieve.ManageSieveOptions.Section));

        Validated<OutboundOptions>(services, OutboundOptions.Section)
            // Lists from configuration replace the defaults instead of being added to them.
            .Configure(o =>
            {
                o.RetrySchedule = [];
                o.DomesticSuffixes = [];
                o.Links = [];
            })
            .Bind(configuration.GetSection(OutboundOptions.Section))
            .PostConfigure(o =>
            {
                o.HostName = OrMachineName(o.HostName);
                if (o.RetrySchedule.Count == 0) o.RetrySchedule = OutboundOptions.DefaultRetrySchedule;
                if (o.DomesticSuffixes.Count == 0) o.DomesticSuffixes = OutboundOptions.DefaultDomesticSuffixes;
                // No links configured: one direct link, in this process's region.
                if (o.Links.Count == 0) o.Links = [new EgressLink { Name = "direct", Region = Host().Region, Kind = LinkKind.Direct }];
            });

        Validated<GrainMail.Dns.DnsOptions>(services, GrainMail.Dns.DnsOptions.Section).Bind(configuration.GetSection(GrainMail.Dns.DnsOptions.Section));
        Validated<GrainMail.Trust.Inbound.TrustOptions>(services, GrainMail.Trust.Inbound.TrustOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Trust.Inbound.TrustOptions.Section))
            .PostConfigure<IOptions<SmtpOptions>>((o, smtp) =>
            {
                // The authserv-id is the host's name unless set (RFC 8601 2.5: the name of the host that checked).
                if (string.IsNullOrWhiteSpace(o.AuthServId)) o.AuthServId = OrMachineName(configuration["GrainMail:Smtp:HostName"]);
            });

        Validated<GrainMail.Outbound.Forwarding.SrsOptions>(services, GrainMail.Outbound.Forwarding.SrsOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Outbound.Forwarding.SrsOptions.Section));
        Validated<GrainMail.Trust.Viruses.ClamdOptions>(services, GrainMail.Trust.Viruses.ClamdOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Trust.Viruses.ClamdOptions.Section));
        Validated<DirectoryOptions>(services, DirectorySection).Bind(configuration.GetSection(DirectorySection));
        Validated<GrainMail.Grains.Admin.AdminSessionOptions>(services, GrainMail.Grains.Admin.AdminSessionOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Grains.Admin.AdminSessionOptions.Section));
        Validated<GrainMail.Grains.Audit.AuditOptions>(services, GrainMail.Grains.Audit.AuditOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Grains.Audit.AuditOptions.Section));
        Validated<GrainMail.Grains.Accounts.Logins.LoginSecurityOptions>(services, GrainMail.Grains.Accounts.Logins.LoginSecurityOptions.Section)
            .Bind(configuration.GetSection(GrainMail.Grains.Accounts.Logins.LoginSecurityOptions.Section));
        Validated<IntakeOptions>(services, "GrainMail:Intake")
            .Configure(o =>
            {
                o.SpoolDirectory = SpoolDirectory(Host());
                o.MaxMessageBytes = Limits().MaxMessageBytes;
            });
        Validated<AdminApiOptions>(services, "GrainMail:AdminApi")
            .Configure<IOptions<OutboundOptions>>((o, outbound) =>
            {
                var limits = Limits();
                o.DefaultRegion = Host().Region;
                o.MaxMessageBytes = limits.MaxMessageBytes;
                o.MessageText = limits.Text;
                o.Links = outbound.Value.Links.Select(l => new AdminLink(l.Name, l.Region, l.Kind.ToString(), l.Host)).ToList();
            });
        return services;
    }

    /// <summary>
    /// Binds and validates everything at once, before the host touches a database or a port:
    /// the problems, one line each, or none.
    /// </summary>
    public static IReadOnlyList<string> Problems(IConfiguration configuration)
    {
        using var services = new ServiceCollection().AddGrainMailOptions(configuration).BuildServiceProvider();
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
            return [];
        }
        catch (OptionsValidationException e)
        {
            return e.Failures.Distinct().ToList();
        }
        catch (AggregateException e)
        {
            // A section that takes another's values fails with that one's problems too: once each.
            return e.InnerExceptions.OfType<OptionsValidationException>().SelectMany(v => v.Failures).Distinct().ToList();
        }
        catch (InvalidOperationException e)
        {
            // The binder: "Failed to convert configuration value at 'GrainMail:SiloPort' to type 'System.Int32'."
            return [e.Message + (e.InnerException is { } inner ? " " + inner.Message : "")];
        }
    }

    private static OptionsBuilder<T> Validated<T>(IServiceCollection services, string section) where T : class
    {
        services.AddSingleton<IValidateOptions<T>>(new SectionValidator<T>(section));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<T>>().Value);
        return services.AddOptions<T>().ValidateOnStart();
    }

    private static string SpoolDirectory(GrainMailSettings host) => Path.Combine(Path.GetFullPath(host.DataDir), "spool");

    private static string OrMachineName(string? name) => string.IsNullOrWhiteSpace(name) ? Environment.MachineName.ToLowerInvariant() : name;
}
