using GrainMail.Gateways.Http.Auth;
using GrainMail.Operations;
using GrainMail.Storage.Telemetry;
using Npgsql;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;
using Orleans.Runtime;

namespace GrainMail.Silo.Telemetry;

/// <summary>
/// What the SRE view adds to a silo host: the gauges read from PostgreSQL and the membership
/// view, every GrainMail meter on the metrics pipeline, and the Orleans dashboard at
/// <c>/dashboard</c> behind the admin token. Kept out of Program.cs so that the host's roles can
/// call it wherever a silo runs.
/// </summary>
public static class OperationsSetup
{
    public const string DashboardPath = AdminAuth.DashboardPath;

    /// <summary>Registers the gauges, meters and (when <see cref="GrainMailSettings.Dashboard"/>) the dashboard's silo side.</summary>
    public static WebApplicationBuilder AddGrainMailOperations(this WebApplicationBuilder builder, GrainMailSettings settings)
    {
        builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddMeter(GrainMailMeters.MeterNames));
        builder.Services.AddSingleton(sp => new QueueGauges(sp.GetRequiredService<NpgsqlDataSource>(), settings.QueueCount,
            sp.GetRequiredService<GrainMail.Outbound.OutboundOptions>().Links.Select(l => l.Name).ToList()));
        builder.Services.AddSingleton<ClusterGauge>();
        builder.Services.AddSingleton<ReportGauges>(); // today's report counters (issue 17, Reports)
        // The grain profiler behind the dashboard's method view only records while someone looks
        // at the dashboard (it switches itself off a minute after the last query).
        if (settings.Dashboard) builder.Services.AddOrleans(silo => silo.AddDashboard());
        return builder;
    }

    /// <summary>A gateway process: its meters only (the cluster-wide gauges and the dashboard are the silos').</summary>
    public static WebApplicationBuilder AddGatewayOperations(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureOpenTelemetryMeterProvider(m => m.AddMeter(GrainMailMeters.MeterNames));
        return builder;
    }

    /// <summary>Creates the gauges and maps the dashboard; call after Build.</summary>
    public static WebApplication MapGrainMailOperations(this WebApplication app, GrainMailSettings settings)
    {
        // Observable gauges exist once their owners do: create them before the first scrape.
        app.Services.GetRequiredService<QueueGauges>();
        app.Services.GetRequiredService<ClusterGauge>();
        app.Services.GetRequiredService<ReportGauges>();
        if (!settings.Dashboard) return app;
        // The admin token's handler (Gateways.Http/Auth): bearer, or basic with the token as
        // password so that a browser asks for it; paths under /dashboard without an endpoint get
        // the same 401 through the fallback policy.
        app.MapOrleansDashboard(DashboardPath).RequireAuthorization(AdminAuth.DashboardPolicy);
        return app;
    }
}
