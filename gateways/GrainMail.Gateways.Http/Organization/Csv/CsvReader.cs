using System.Text;

namespace GrainMail.Gateways.Http.Organization.Csv;

/// <summary>One record of a CSV file and the line it starts on (1 is the first line).</summary>
public sealed record CsvRecord(int Line, IReadOnlyList<string> Fields);

/// <summary>
/// RFC 4180 records: fields separated by commas, optionally in double quotes (a quote inside is
/// doubled), records ended by CRLF or a bare LF (spreadsheets on Unix write LF). A quoted field
/// may span lines, so a record's line is where it starts. Blank lines are skipped.
/// </summary>
public static class CsvReader
{
    /// <summary>The records, or the line of an unterminated quoted field.</summary>
    public static (List<CsvRecord> Records, int? UnterminatedAt) Read(string text)
    {
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var i = 0;
        var quoted = false;
        var quoteStart = 0;
        var any = false; // whether the current record has any character (a blank line has none)
        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"')
                    {
                        field.Append('"');
                        i += 2;
                        continue;
                    }
                    quoted = false;
                    i++;
                    continue;
                }
                if (c == '\n') line++;
                field.Append(c);
                i++;
                continue;
            }
            switch (c)
            {
                case '"' when field.Length == 0:
                    quoted = true;
                    quoteStart = line;
                    any = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    any = true;
                    break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    break; // the LF ends the record
                case '\n':
                    if (any)
                    {
                        fields.Add(field.ToString());
                        records.Add(new CsvRecord(recordLine, fields.ToArray()));
                    }
                    fields.Clear();
                    field.Clear();
                    any = false;
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(c);
                    any = true;
                    break;
            }
            i++;
        }
        if (quoted) return (records, quoteStart);
        if (any)
        {
            fields.Add(field.ToString());
            records.Add(new CsvRecord(recordLine, fields.ToArray()));
        }
        return (records, null);
    }

    /// <summary>A field as RFC 4180 writes it: quoted when it holds a comma, a quote, a line break or edge spaces.</summary>
    public static string Quote(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "";
        var needs = value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == ' ' || value[^1] == ' ';
        return needs ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    }
}
