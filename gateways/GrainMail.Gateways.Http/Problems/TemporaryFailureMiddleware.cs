using GrainMail.Contracts;
using GrainMail.Gateways.Common;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Http.Problems;

/// <summary>
/// Answers a request that failed because the cluster or its database was away (a silo killed, a failover in progress)
/// with 503 and <c>Retry-After</c> (RFC 9110 15.6.4) as a problem document, where an unhandled exception gave an empty
/// 500: the admin API, a user's /api/v1/me and CardDAV, JMAP's session and upload/download routes, and the HTTP Basic
/// login that all of them share (its password check is a grain call). A client that sees 503 tries again; a 500 says the
/// request itself is at fault. What is a temporary failure is the same judgement as the gateways' retry filter
/// (<see cref="SiloFailureRetry.IsWorthRetrying"/>) — by the time it reaches here a retryable call has already been asked
/// again for its budget. A database failure that is not transient (a constraint, a bug) stays a 500.
/// </summary>
public sealed class TemporaryFailureMiddleware(RequestDelegate next, ILogger<TemporaryFailureMiddleware> logger)
{
    /// <summary>Seconds a client is told to wait: about what membership and a database promotion take.</summary>
    public const int RetryAfterSeconds = 5;

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (IsTemporary(e) && !context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            logger.LogWarning("{Method} {Path}: answered 503, the cluster is recovering ({Error}: {Message})",
                context.Request.Method, context.Request.Path, e.GetType().Name, e.Message);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service temporarily unavailable",
                detail: "The mail cluster is recovering from a failure; try again shortly.").ExecuteAsync(context);
        }
    }

    /// <summary>A silo's or the database's temporary failure, also when ASP.NET or a handler wrapped it.</summary>
    public static bool IsTemporary(Exception e) => e switch
    {
        _ when SiloFailureRetry.IsWorthRetrying(e) => true,
        AggregateException a => a.InnerExceptions.Any(IsTemporary),
        { InnerException: { } inner } => IsTemporary(inner),
        _ => false,
    };
}
