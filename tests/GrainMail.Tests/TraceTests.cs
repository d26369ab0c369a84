using System.Diagnostics;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Storage.Delivery;
using GrainMail.Operations;
using GrainMail.Tests.Infrastructure;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace GrainMail.Tests;

/// <summary>One message, one trace: the submit path's span and the mailbox grain's delivery, across the durable stream.</summary>
public sealed class TraceTests(PostgresServer pg)
{
    [Fact]
    public async Task A_message_is_one_trace_from_its_commit_to_the_mailbox_grain()
    {
        var exported = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(GrainMailTracing.SourceName)
            .AddInMemoryExporter(exported)
            .Build();
        await using var cluster = await TestSilos.StartAsync(await pg.NewDatabaseAsync("trace"));
        var domain = cluster.Client.GetGrain<IDomainGrain>("trace.test");
        await domain.Create(DomainSettings.Default("local"));
        await domain.CreateAccount(new NewAccount("tess", "a long password", null, null));

        ActivityTraceId traceId;
        // Stands where a gateway's span stands (the SMTP gateway opens "smtp.message" the same way).
        using (var gateway = GrainMailTracing.Source.StartActivity("smtp.message", ActivityKind.Server))
        {
            Assert.NotNull(gateway);
            traceId = gateway.TraceId;
            await cluster.Service<MessageSubmitter>().SubmitAsync(
                new Submission("x@elsewhere.test", ["tess@trace.test"], "Subject: traced\r\n\r\nx\r\n"u8.ToArray()));
        }
        var mailbox = cluster.Client.GetGrain<IMailboxGrain>("tess@trace.test");
        await Eventually.Until(async () => (await mailbox.GetQuota()).Messages >= 1, TimeSpan.FromSeconds(20), "the traced message in tess@trace.test");
        tracer.ForceFlush();

        var trace = exported.Where(a => a.TraceId == traceId).ToList();
        var commit = Assert.Single(trace, a => a.OperationName == "grainmail.commit");
        var deliver = Assert.Single(trace, a => a.OperationName == "grainmail.deliver");
        var root = Assert.Single(trace, a => a.OperationName == "smtp.message");
        Assert.Equal(root.SpanId, commit.ParentSpanId);
        Assert.Equal(commit.SpanId, deliver.ParentSpanId);
        Assert.Equal("tess@trace.test", deliver.GetTagItem("grainmail.mailbox"));
    }
}
