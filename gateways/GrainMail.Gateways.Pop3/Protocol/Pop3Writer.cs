using System.Buffers;
using System.Text;

namespace GrainMail.Gateways.Pop3.Protocol;

/// <summary>
/// Builds POP3 responses in a buffer that goes out in one write per command: status lines and
/// multi-line responses, dot-stuffed (RFC 1939 3).
/// </summary>
public sealed class Pop3Writer
{
    private ArrayBufferWriter<byte> _buffer = new(256);

    public int Length => _buffer.WrittenCount;

    public Pop3Writer Line(string text)
    {
        var span = _buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length) + 2);
        var n = Encoding.UTF8.GetBytes(text, span);
        span[n] = (byte)'\r';
        span[n + 1] = (byte)'\n';
        _buffer.Advance(n + 2);
        return this;
    }

    public Pop3Writer Raw(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>
    /// A multi-line body: lines starting with '.' get another '.', every line ends in CRLF (a last
    /// line without one gets it), and the terminating "." line follows. With
    /// <paramref name="bodyLines"/> only the header section, the blank line and that many body
    /// lines are sent (TOP).
    /// </summary>
    public Pop3Writer DotStuffed(ReadOnlySpan<byte> raw, int bodyLines = int.MaxValue)
    {
        var inBody = false;
        var sentBody = 0;
        while (raw.Length > 0)
        {
            if (inBody && sentBody >= bodyLines) break;
            var lf = raw.IndexOf((byte)'\n');
            var line = lf < 0 ? raw : raw[..(lf + 1)];
            raw = raw[line.Length..];
            var content = line.TrimEnd("\r\n"u8);
            if (content.Length > 0 && content[0] == '.') Raw("."u8);
            Raw(content).Raw("\r\n"u8);
            if (inBody) sentBody++;
            else if (content.Length == 0) inBody = true;
        }
        return Raw(".\r\n"u8);
    }

    public async ValueTask FlushAsync(Stream stream, CancellationToken ct)
    {
        if (_buffer.WrittenCount == 0) return;
        await stream.WriteAsync(_buffer.WrittenMemory, ct);
        await stream.FlushAsync(ct);
        // A buffer grown by a large RETR is let go rather than kept for the life of the session.
        if (_buffer.Capacity > 16 * 1024) _buffer = new ArrayBufferWriter<byte>(256);
        else _buffer.ResetWrittenCount();
    }
}
