using System.Collections;
using GrainMail.Gateways.Http;
using GrainMail.Gateways.Imap;
using GrainMail.Gateways.Smtp;
using GrainMail.Grains.Intake;
using GrainMail.Outbound;
using GrainMail.Silo.Configuration;
using GrainMail.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Tests;

/// <summary>
/// Settings are bound from configuration and checked at start: GRAINMAIL_* variables, shared
/// keys and older flat names reach their keys, one set of message limits reaches every way in,
/// and a value out of range stops the real host at start with a message naming it.
/// </summary>
public sealed class ConfigurationTests
{
    private static IConfiguration Build(Dictionary<string, string?> values, Dictionary<string, string>? environment = null)
    {
        var manager = new ConfigurationManager();
        manager.AddInMemoryCollection(values);
        manager.AddInMemoryCollection(ConfigurationKeys.Overlay(manager, new Hashtable(environment ?? new Dictionary<string, string>())));
        return manager;
    }

    private static ServiceProvider Services(IConfiguration configuration) =>
        new ServiceCollection().AddGrainMailOptions(configuration).BuildServiceProvider();

    [Fact]
    public void Environment_variables_older_names_and_shared_keys_reach_their_keys_with_the_documented_precedence()
    {
        var configuration = Build(new()
        {
            ["GrainMail:SmtpMaxConnectionsPerIp"] = "7",            // older name
            ["GrainMail:ImapMaxConnectionsPerIp"] = "8",            // older name …
            ["GrainMail:Imap:MaxConnectionsPerIp"] = "9",           // … loses to the section's own key
            ["GrainMail:AllowPlaintextAuth"] = "true",              // shared by the three protocols
            ["GrainMail:Pop3:AllowPlaintextAuth"] = "false",        // unless a section says otherwise
            ["GrainMail:OutboundLinks:0:Name"] = "relay-a",         // a list, with everything under it
            ["GrainMail:OutboundLinks:0:Kind"] = "Relay",
            ["GrainMail:OutboundLinks:0:Host"] = "127.0.0.1",
            ["GrainMail:Outbound:Port"] = "26",
        }, new()
        {
            ["GRAINMAIL_SMTP_OUT_PORT"] = "2626",                   // a GRAINMAIL_* variable wins over everything
            ["GRAINMAIL_DNS"] = "",                                 // empty is unset
        });
        using var services = Services(configuration);
        var smtp = services.GetRequiredService<SmtpOptions>();
        var imap = services.GetRequiredService<ImapOptions>();
        var pop3 = services.GetRequiredService<GrainMail.Gateways.Pop3.Pop3Options>();
        var outbound = services.GetRequiredService<OutboundOptions>();
        Assert.Equal(7, smtp.MaxConnectionsPerIp);
        Assert.Equal(9, imap.MaxConnectionsPerIp);
        Assert.True(smtp.AllowPlaintextAuth);
        Assert.True(imap.AllowPlaintextAuth);
        Assert.False(pop3.AllowPlaintextAuth);
        Assert.Equal(2626, outbound.Port);
        Assert.Empty(services.GetRequiredService<GrainMail.Dns.DnsOptions>().Servers);
        Assert.Equal("relay-a", Assert.Single(outbound.Links).Name);
        Assert.Equal(LinkKind.Relay, outbound.Links[0].Kind);
    }

    [Fact]
    public void Configured_lists_replace_the_defaults_and_an_empty_list_keeps_them()
    {
        using var configured = Services(Build(new() { ["GrainMail:Outbound:RetrySchedule:0"] = "00:00:03" }));
        Assert.Equal(new[] { TimeSpan.FromSeconds(3) }, configured.GetRequiredService<OutboundOptions>().RetrySchedule);
        using var defaults = Services(Build(new() { ["GrainMail:Region"] = "hangzhou" }));
        var outbound = defaults.GetRequiredService<OutboundOptions>();
        Assert.Equal(OutboundOptions.DefaultRetrySchedule, outbound.RetrySchedule);
        Assert.Equal(OutboundOptions.DefaultDomesticSuffixes, outbound.DomesticSuffixes);
        // No link configured: one direct link in the process's region.
        var link = Assert.Single(outbound.Links);
        Assert.Equal((LinkKind.Direct, "hangzhou"), (link.Kind, link.Region));
    }

    [Fact]
    public void One_set_of_message_limits_reaches_SMTP_IMAP_APPEND_the_admin_API_and_the_intake()
    {
        using var services = Services(Build(new()
        {
            ["GrainMail:Messages:MaxMessageBytes"] = "30000",
            ["GrainMail:SmtpMaxHeaderFields"] = "12", // the older name of GrainMail:Messages:MaxHeaderFields
            ["GrainMail:Messages:MaxHeaderFieldLines"] = "5",
        }));
        var smtp = services.GetRequiredService<SmtpOptions>();
        var imap = services.GetRequiredService<ImapOptions>();
        var api = services.GetRequiredService<AdminApiOptions>();
        Assert.Equal(30000, smtp.MaxMessageBytes);
        Assert.Equal(30000, imap.AppendLimit);
        Assert.Equal(30000, api.MaxMessageBytes);
        Assert.Equal(30000, services.GetRequiredService<IntakeOptions>().MaxMessageBytes);
        foreach (var text in new[] { smtp.MessageText, imap.MessageText, api.MessageText })
        {
            Assert.Equal(12, text.MaxHeaderFields);
            Assert.Equal(5, text.MaxHeaderFieldLines);
        }
    }

    [Theory]
    [InlineData("GrainMail:Smtp:MaxConnectionsPerIp", "-1", "GrainMail:Smtp:MaxConnectionsPerIp = -1: must be between 1")]
    [InlineData("GrainMail:SmtpMxPort", "65536", "GrainMail:SmtpMxPort = 65536: must be between 0 and 65535")]
    [InlineData("GrainMail:Messages:MaxMessageBytes", "0", "GrainMail:Messages:MaxMessageBytes = 0: must be between 1024")]
    [InlineData("GrainMail:Imap:IdleTimeout", "00:00:00", "GrainMail:Imap:IdleTimeout = 00:00:00: must be between")]
    [InlineData("GrainMail:Pop3MaxConnections", "0", "GrainMail:Pop3:MaxConnections = 0: must be between 1")]
    [InlineData("GrainMail:Messages:MaxHeaderFieldBytes", "2000000", "GrainMail:Messages:MaxHeaderFieldBytes = 2000000: must be between 1000 and 1048576")]
    [InlineData("GrainMail:Outbound:Resolvers", "dns.example", "GrainMail:Dns:Resolvers: 'dns.example' is not an ip[:port]")]
    [InlineData("GrainMail:Dns:Blocklists", "zen.example:heavy", "GrainMail:Dns:Blocklists: 'zen.example:heavy' is not a zone or zone:weight")]
    [InlineData("GrainMail:Role", "mailer", "GrainMail:Role: must be node, silo or gateway")]
    public void A_value_out_of_range_is_a_problem_that_names_the_setting(string key, string value, string expected)
    {
        var problems = GrainMailOptions.Problems(Build(new() { [key] = value }));
        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_reported_once_also_when_one_section_takes_values_from_another()
    {
        var problems = GrainMailOptions.Problems(Build(new()
        {
            ["GrainMail:ImapPort"] = "70000",                     // the host's section, which SMTP and outbound read too
            ["GrainMail:Smtp:MaxConnectionsPerIp"] = "-1",
            ["GrainMail:Messages:MaxMessageBytes"] = "0",         // read by SMTP, IMAP, the API and the intake
        }));
        Assert.Equal(3, problems.Count);
        Assert.Single(problems, p => p.StartsWith("GrainMail:ImapPort = 70000", StringComparison.Ordinal));
        Assert.Single(problems, p => p.StartsWith("GrainMail:Smtp:MaxConnectionsPerIp = -1", StringComparison.Ordinal));
        Assert.Single(problems, p => p.StartsWith("GrainMail:Messages:MaxMessageBytes = 0", StringComparison.Ordinal));
    }

    [Fact]
    public void The_defaults_are_valid() => Assert.Empty(GrainMailOptions.Problems(Build(new())));

    /// <summary>What the benchmark host script sets: any free port for PostgreSQL, listeners turned off with 0.</summary>
    [Fact]
    public void Zero_ports_meaning_any_free_port_or_off_are_valid() =>
        Assert.Empty(GrainMailOptions.Problems(Build(new(), new()
        {
            ["GRAINMAIL_PG_PORT"] = "0",
            ["GRAINMAIL_IMAP_PORT"] = "0",
            ["GRAINMAIL_POP3_PORT"] = "0",
        })));

    [Theory]
    [InlineData("GrainMail__Smtp__MaxConnectionsPerIp", "-5", "GrainMail:Smtp:MaxConnectionsPerIp = -5")]
    [InlineData("GRAINMAIL_IMAP_PORT", "70000", "GrainMail:ImapPort = 70000")]
    [InlineData("GrainMail__Messages__MaxMessageBytes", "0", "GrainMail:Messages:MaxMessageBytes = 0")]
    [InlineData("GrainMail__SmtpMaxUnknownRecipientsPerSession", "0", "GrainMail:Smtp:MaxUnknownRecipientsPerSession = 0")]
    [InlineData("GRAINMAIL_SILO_PORT", "eleven", "GrainMail:SiloPort")]
    public async Task The_host_refuses_to_start_with_an_invalid_setting_and_says_which(string variable, string value, string expected)
    {
        var dir = Path.Combine(Path.GetTempPath(), "grainmail-config-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            // No database is reached: the settings are checked before anything starts.
            await using var host = await HostProcess.StartAsync("Host=127.0.0.1;Port=1;Database=none", dir, HostProcess.Ports.Free(),
                waitReady: false, extraEnvironment: new Dictionary<string, string> { [variable] = value });
            var (exitCode, output) = await host.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(2, exitCode);
            Assert.Contains("invalid configuration", output);
            Assert.Contains(expected, output);
            Assert.DoesNotContain("Unhandled exception", output);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
