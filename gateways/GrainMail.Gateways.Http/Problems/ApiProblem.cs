using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrainMail.Gateways.Http.Problems;

/// <summary>RFC 9457 problem documents, typed so that the OpenAPI document lists them.</summary>
public static class ApiProblem
{
    public static ProblemHttpResult Of(int status, string title, string? detail = null) =>
        TypedResults.Problem(statusCode: status, title: title, detail: detail);

    public static ProblemHttpResult BadRequest(string title, string? detail = null) => Of(StatusCodes.Status400BadRequest, title, detail);

    public static ProblemHttpResult NotFound(string title, string? detail = null) => Of(StatusCodes.Status404NotFound, title, detail);

    public static ProblemHttpResult Conflict(string title, string? detail = null) => Of(StatusCodes.Status409Conflict, title, detail);

    public static ProblemHttpResult TooLarge(string detail) => Of(StatusCodes.Status413PayloadTooLarge, "Message too large", detail);

    public static ProblemHttpResult BadJson() => BadRequest("Malformed JSON body");

    public static ProblemHttpResult NoSuchDomain(string name) => NotFound("No such domain", name);

    public static ProblemHttpResult NoSuchAccount(string address) => NotFound("No such account", address);
}
