namespace GrainMail.Trust.Viruses;

public enum ScanVerdict { Clean, Infected, Unavailable }

/// <summary>What a scan found: clean, a signature, or no answer (clamd unreachable, timed out or in error).</summary>
/// <param name="ScannedBytes">How much of the message clamd saw (less than its length past StreamMaxLength).</param>
public sealed record VirusScanResult(ScanVerdict Verdict, string? Signature, string? Problem, long ScannedBytes)
{
    public static VirusScanResult Unavailable(string problem) => new(ScanVerdict.Unavailable, null, problem, 0);
}

/// <summary>
/// clamd's reply to INSTREAM (clamd(8), "INSTREAM"): <c>stream: OK</c>, <c>stream: NAME FOUND</c> or
/// <c>... ERROR</c>; inside an IDSESSION each reply is prefixed with its request number and a colon.
/// Pure parsing, no I/O.
/// </summary>
public static class ClamdReply
{
    /// <summary>Longest signature name kept; clamd's own are far shorter.</summary>
    public const int MaxSignatureLength = 200;

    /// <summary>Parses one reply (the terminating NUL removed); <paramref name="expectedId"/> is the session's request number, or null outside a session.</summary>
    public static VirusScanResult Parse(string reply, int? expectedId, long scannedBytes)
    {
        var text = reply.TrimEnd('\0', '\n', '\r', ' ');
        if (expectedId is { } id)
        {
            var colon = text.IndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var got))
                return VirusScanResult.Unavailable($"clamd: {Printable(text)}");
            if (got != id) return VirusScanResult.Unavailable($"clamd answered request {got}, expected {id}");
            text = text[(colon + 2)..];
        }
        if (text.EndsWith(" ERROR", StringComparison.Ordinal)) return VirusScanResult.Unavailable($"clamd: {Printable(text)}");
        if (!text.StartsWith("stream: ", StringComparison.Ordinal)) return VirusScanResult.Unavailable($"clamd: {Printable(text)}");
        var verdict = text["stream: ".Length..];
        if (verdict == "OK") return new VirusScanResult(ScanVerdict.Clean, null, null, scannedBytes);
        if (verdict.EndsWith(" FOUND", StringComparison.Ordinal) && verdict.Length > " FOUND".Length)
            return new VirusScanResult(ScanVerdict.Infected, Printable(verdict[..^" FOUND".Length]), null, scannedBytes);
        return VirusScanResult.Unavailable($"clamd: {Printable(text)}");
    }

    /// <summary>A signature name or error as it may go into an SMTP reply or a header: printable ASCII, bounded.</summary>
    public static string Printable(string text)
    {
        var clean = new string(text.Select(c => c is >= '!' and <= '~' or ' ' ? c : '?').ToArray()).Trim();
        return clean.Length <= MaxSignatureLength ? clean : clean[..MaxSignatureLength];
    }
}
