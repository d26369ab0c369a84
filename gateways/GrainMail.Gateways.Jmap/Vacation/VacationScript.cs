using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MimeKit;

namespace GrainMail.Gateways.Jmap.Vacation;

/// <summary>The VacationResponse object (RFC 8621 8) without its fixed id.</summary>
public sealed record VacationSettings(bool IsEnabled, string? FromDate, string? ToDate, string? Subject, string? TextBody, string? HtmlBody)
{
    public static readonly VacationSettings Off = new(false, null, null, null, null, null);

    public JsonObject ToJson() => new()
    {
        ["id"] = "singleton",
        ["isEnabled"] = IsEnabled,
        ["fromDate"] = FromDate,
        ["toDate"] = ToDate,
        ["subject"] = Subject,
        ["textBody"] = TextBody,
        ["htmlBody"] = HtmlBody,
    };
}

/// <summary>
/// The VacationResponse as a Sieve script (RFC 5230 vacation, RFC 5260 currentdate for the dates),
/// and back. Pure. The settings travel in the script's one "# jmap-vacation: {json}" comment line, so
/// the script in the Sieve store is the only copy: what ManageSieve shows is what JMAP reads. A
/// disabled response keeps its text in that line and has no vacation command.
/// </summary>
public static class VacationScript
{
    private const string Marker = "# jmap-vacation: ";

    /// <summary>
    /// The script. <paramref name="addresses"/> are the account's other addresses (aliases): mail to
    /// them is answered too (RFC 5230 4.5). The reply goes at most once per sender per 7 days (the RFC's
    /// default period), from the account's address, never to lists or automatic mail (the delivery's rules).
    /// </summary>
    public static string Generate(VacationSettings v, IReadOnlyList<string> addresses)
    {
        var b = new StringBuilder();
        b.Append("# The vacation reply of the webmail's settings (JMAP VacationResponse, RFC 8621 8).\r\n");
        b.Append("# GrainMail runs this script before your active script and takes only its vacation reply,\r\n");
        b.Append("# so your own filters keep working. Change it in the webmail; delete it to stop the reply.\r\n");
        b.Append(Marker).Append(SettingsJson(v)).Append("\r\n");
        if (!v.IsEnabled)
        {
            b.Append("# The reply is switched off.\r\n");
            return b.ToString();
        }
        var dated = v.FromDate is not null || v.ToDate is not null;
        b.Append(dated ? "require [\"vacation\", \"date\", \"relational\"];\r\n" : "require [\"vacation\"];\r\n");
        var indent = "";
        if (dated)
        {
            var tests = new List<string>();
            // In UTC, currentdate's "iso8601" part has the UTCDate form, so the two compare as strings.
            if (v.FromDate is { } from) tests.Add($"currentdate :zone \"+0000\" :value \"ge\" \"iso8601\" {Quote(from)}");
            if (v.ToDate is { } to) tests.Add($"currentdate :zone \"+0000\" :value \"lt\" \"iso8601\" {Quote(to)}");
            b.Append("if allof(").Append(string.Join(", ", tests)).Append(") {\r\n");
            indent = "    ";
        }
        b.Append(indent).Append("vacation :days 7");
        if (v.Subject is { Length: > 0 } subject) b.Append(" :subject ").Append(Quote(subject));
        if (addresses.Count > 0) b.Append(" :addresses [").Append(string.Join(", ", addresses.Select(Quote))).Append(']');
        if (v.HtmlBody is { Length: > 0 })
            b.Append(" :mime ").Append(Quote(MimeBody(v.TextBody, v.HtmlBody)));
        else b.Append(' ').Append(Quote(v.TextBody ?? ""));
        b.Append(";\r\n");
        if (dated) b.Append("}\r\n");
        return b.ToString();
    }

    /// <summary>The settings a generated script holds; <see cref="VacationSettings.Off"/> when there is no script or no settings line.</summary>
    public static VacationSettings Read(string? script)
    {
        if (script is null) return VacationSettings.Off;
        foreach (var line in script.Split('\n'))
        {
            if (!line.StartsWith(Marker, StringComparison.Ordinal)) continue;
            try
            {
                if (JsonNode.Parse(line[Marker.Length..].TrimEnd('\r')) is not JsonObject o) break;
                return new VacationSettings(o["isEnabled"] is JsonValue e && e.GetValueKind() == JsonValueKind.True,
                    Text(o, "fromDate"), Text(o, "toDate"), Text(o, "subject"), Text(o, "textBody"), Text(o, "htmlBody"));
            }
            catch (JsonException)
            {
                break;
            }
        }
        return VacationSettings.Off;
    }

    private static string? Text(JsonObject o, string name) =>
        o[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    private static string SettingsJson(VacationSettings v)
    {
        var o = v.ToJson();
        o.Remove("id");
        // Escaped to ASCII by the serializer: one line, whatever the text holds.
        return o.ToJsonString();
    }

    /// <summary>A Sieve quoted string (RFC 5228 2.4.2): backslash and double quote escaped; line breaks may stand as they are.</summary>
    public static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>RFC 5230 4.4 (:mime): the reason as a MIME entity, text and HTML as alternatives.</summary>
    private static string MimeBody(string? text, string html)
    {
        var htmlPart = new TextPart("html") { Text = html };
        htmlPart.ContentType.Charset = "utf-8";
        MimeEntity entity = htmlPart;
        if (text is { Length: > 0 })
        {
            var textPart = new TextPart("plain") { Text = text };
            textPart.ContentType.Charset = "utf-8";
            entity = new MultipartAlternative { textPart, htmlPart };
        }
        using var s = new MemoryStream();
        entity.WriteTo(FormatOptions.Default, s);
        return Encoding.UTF8.GetString(s.ToArray());
    }

    /// <summary>A UTCDate (RFC 8620 1.4) in its canonical form, or null when the text is not one.</summary>
    public static string? CanonicalDate(string text) =>
        DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'"], CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)
            ? d.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : null;
}
