using System.Buffers;
using System.IO.Pipelines;

namespace GrainMail.Gateways.Common.Protocol;

public enum LineStatus
{
    Line,
    Closed,

    /// <summary>A line longer than the limit; it was skipped up to its end and nothing of it kept.</summary>
    TooLong,
}

/// <summary>
/// Reads CRLF-terminated lines (a bare LF ends a line too) from a pipe, each bounded by
/// <see cref="MaxLine"/> octets: memory per connection stays bounded whatever arrives.
/// IMAP reads its command lines with it, POP3 its commands.
/// </summary>
public sealed class CrlfLineReader(PipeReader input, int maxLine)
{
    public int MaxLine => maxLine;

    public PipeReader Input => input;

    /// <summary>Reads one line without its line end.</summary>
    public async Task<(LineStatus Status, byte[] Line)> ReadLineAsync(CancellationToken ct)
    {
        var skipping = false;
        while (true)
        {
            var result = await input.ReadAsync(ct);
            var buffer = result.Buffer;
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is { } end)
            {
                var slice = buffer.Slice(0, end);
                var after = buffer.GetPosition(1, end);
                if (skipping || slice.Length > maxLine)
                {
                    input.AdvanceTo(after);
                    return (LineStatus.TooLong, []);
                }
                var line = slice.ToArray();
                input.AdvanceTo(after);
                var n = line.Length > 0 && line[^1] == '\r' ? line.Length - 1 : line.Length;
                return (LineStatus.Line, n == line.Length ? line : line[..n]);
            }
            if (buffer.Length > maxLine)
            {
                skipping = true;
                input.AdvanceTo(buffer.End);
            }
            else
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (result.IsCompleted) return (LineStatus.Closed, []);
        }
    }
}
