using System.Buffers;
using System.Text;

namespace GrainMail.Gateways.Imap.Protocol;

/// <summary>
/// Builds responses in a buffer that goes out in one write per command (or per IDLE notice).
/// Strings are written quoted when they are short, single-line ASCII, else as literals.
/// </summary>
public sealed class ImapWriter
{
    // Small to start with: ten thousand idling sessions each keep one.
    private ArrayBufferWriter<byte> _buffer = new(512);

    public int Length => _buffer.WrittenCount;

    public ImapWriter Raw(string text)
    {
        var span = _buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        _buffer.Advance(Encoding.UTF8.GetBytes(text, span));
        return this;
    }

    public ImapWriter Raw(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    public ImapWriter Number(long n)
    {
        var span = _buffer.GetSpan(20);
        n.TryFormat(span, out var written, default, System.Globalization.CultureInfo.InvariantCulture);
        _buffer.Advance(written);
        return this;
    }

    public ImapWriter Line(string text) => Raw(text).Raw("\r\n"u8);

    public ImapWriter Crlf() => Raw("\r\n"u8);

    public ImapWriter Literal(ReadOnlySpan<byte> bytes)
    {
        Raw("{").Number(bytes.Length).Raw("}\r\n");
        return Raw(bytes);
    }

    /// <summary>An IMAP string: quoted when possible, else a literal.</summary>
    public ImapWriter String(string value)
    {
        if (CanQuote(value))
        {
            Raw("\"");
            foreach (var ch in value)
            {
                if (ch is '"' or '\\') Raw("\\");
                Raw(ch.ToString());
            }
            return Raw("\"");
        }
        return Literal(Encoding.UTF8.GetBytes(value));
    }

    public ImapWriter NString(string? value) => value is null ? Raw("NIL") : String(value);

    /// <summary>
    /// A mailbox name or other astring: bare when it is a plain atom, else quoted. ']' is quoted too,
    /// though ASTRING-CHAR allows it: clients that read a name as an atom stop at it (as Dovecot does).
    /// </summary>
    public ImapWriter AString(string value)
    {
        if (value.Length > 0 && value.All(c => c < 0x7f && ImapParser.IsAtomChar((byte)c)) && !value.Equals("NIL", StringComparison.OrdinalIgnoreCase))
            return Raw(value);
        return String(value);
    }

    // UTF-8 is allowed in quoted strings (RFC 6855/9051), but CR, LF and NUL never are.
    private static bool CanQuote(string value)
    {
        if (value.Length > 512) return false;
        foreach (var ch in value)
            if (ch is '\r' or '\n' or '\0') return false;
        return true;
    }

    public async ValueTask FlushAsync(Stream stream, CancellationToken ct)
    {
        if (_buffer.WrittenCount == 0) return;
        await stream.WriteAsync(_buffer.WrittenMemory, ct);
        await stream.FlushAsync(ct);
        // A buffer grown by a large FETCH is let go rather than kept for the life of the session.
        if (_buffer.Capacity > 16 * 1024) _buffer = new ArrayBufferWriter<byte>(512);
        else _buffer.ResetWrittenCount();
    }
}
