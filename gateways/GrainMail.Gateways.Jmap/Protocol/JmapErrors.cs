namespace GrainMail.Gateways.Jmap.Protocol;

/// <summary>The error type URIs and names of RFC 8620 3.6 (request level) and 3.6.2 (method level).</summary>
public static class JmapErrors
{
    // Request-level (RFC 8620 3.6.1): answered as an RFC 7807 problem document.
    public const string UnknownCapability = "urn:ietf:params:jmap:error:unknownCapability";
    public const string NotJson = "urn:ietf:params:jmap:error:notJSON";
    public const string NotRequest = "urn:ietf:params:jmap:error:notRequest";
    public const string Limit = "urn:ietf:params:jmap:error:limit";

    // Method-level (RFC 8620 3.6.2) and the /get, /set, /changes, /query ones (5.x, 8621).
    public const string ServerUnavailable = "serverUnavailable";
    public const string ServerFail = "serverFail";
    public const string ServerPartialFail = "serverPartialFail";
    public const string UnknownMethod = "unknownMethod";
    public const string InvalidArguments = "invalidArguments";
    public const string InvalidResultReference = "invalidResultReference";
    public const string Forbidden = "forbidden";
    public const string AccountNotFound = "accountNotFound";
    public const string AccountNotSupportedByMethod = "accountNotSupportedByMethod";
    public const string AccountReadOnly = "accountReadOnly";
    public const string RequestTooLarge = "requestTooLarge";
    public const string CannotCalculateChanges = "cannotCalculateChanges";
    public const string StateMismatch = "stateMismatch";
    public const string AnchorNotFound = "anchorNotFound";
    public const string UnsupportedSort = "unsupportedSort";
    public const string UnsupportedFilter = "unsupportedFilter";
    public const string TooManyChanges = "tooManyChanges";
    public const string FromAccountNotFound = "fromAccountNotFound";
    public const string FromAccountNotSupportedByMethod = "fromAccountNotSupportedByMethod";
}

/// <summary>A method-level error: the dispatcher answers the call with an "error" invocation (RFC 8620 3.6.2).</summary>
public sealed class JmapMethodException(string type, string? description = null) : Exception(description ?? type)
{
    public string Type => type;

    public string? Description => description;
}

/// <summary>A request-level error (RFC 8620 3.6.1): the whole request is refused with a problem document.</summary>
public sealed record JmapRequestError(string Type, int Status, string Detail, string? Limit = null);
