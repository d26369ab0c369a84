using System.Diagnostics.CodeAnalysis;
using GrainMail.Contracts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace GrainMail.Gateways.Http.Problems;

/// <summary>Domain names and addresses taken from a route or a body, or the 400 that says why not.</summary>
public static class RouteNames
{
    public static bool TryDomain(string? text, out string name, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        if (DomainName.TryParse(text, out var parsed, out var error))
        {
            name = parsed.Ascii;
            problem = null;
            return true;
        }
        name = "";
        problem = ApiProblem.BadRequest("Invalid domain name", $"'{text}': {error}");
        return false;
    }

    public static bool TryAddress(string? text, out string address, [NotNullWhen(false)] out ProblemHttpResult? problem)
    {
        if (MailAddress.Normalize(text) is { } a)
        {
            address = a;
            problem = null;
            return true;
        }
        address = "";
        problem = ApiProblem.BadRequest("Invalid address", text);
        return false;
    }
}
