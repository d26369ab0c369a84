using System.Buffers;

namespace GrainMail.Gateways.Common.Messages;

/// <summary>Why a message's text cannot be accepted.</summary>
public enum MessageTextProblem
{
    None,

    /// <summary>A NUL octet: not allowed anywhere in a message (RFC 5322 2.3, RFC 5321 4.5.2 text).</summary>
    Nul,

    /// <summary>The header section is larger than <see cref="MessageTextLimits.MaxHeaderSectionBytes"/>.</summary>
    HeaderSectionTooLarge,

    /// <summary>One header field, unfolded, is longer than <see cref="MessageTextLimits.MaxHeaderFieldBytes"/>.</summary>
    HeaderFieldTooLong,

    /// <summary>One header field is folded over more than <see cref="MessageTextLimits.MaxHeaderFieldLines"/> lines.</summary>
    HeaderFieldTooManyLines,

    /// <summary>More than <see cref="MessageTextLimits.MaxHeaderFields"/> header fields.</summary>
    TooManyHeaderFields,
}

/// <summary>
/// Limits on a message's header section, checked as the message arrives at every way in
/// (SMTP DATA and BDAT, the admin API, IMAP APPEND). They bound what later readers of the
/// header (IMAP ENVELOPE, SEARCH, the MIME parser) have to unfold and scan.
/// </summary>
/// <param name="MaxHeaderSectionBytes">The whole header section, up to the empty line.</param>
/// <param name="MaxHeaderFieldBytes">One field including its folded lines.</param>
/// <param name="MaxHeaderFieldLines">Lines of one field (the first and its continuations).</param>
/// <param name="MaxHeaderFields">Fields in the header section.</param>
public sealed record MessageTextLimits(int MaxHeaderSectionBytes, int MaxHeaderFieldBytes, int MaxHeaderFieldLines, int MaxHeaderFields)
{
    /// <summary>1 MiB of header; 64 KiB and 1,000 lines per field; 1,000 fields. Real mail stays far below each.</summary>
    public static readonly MessageTextLimits Default = new(1024 * 1024, 64 * 1024, 1000, 1000);
}

/// <summary>
/// The one rule for message text at every way in: line endings become CRLF (a bare LF or bare
/// CR is a line end, RFC 5322 2.3 allows neither alone), NUL is refused, and the header section
/// is held to <see cref="MessageTextLimits"/>. A streaming writer: bytes go in as they arrive, in
/// any pieces, and come out normalised into the inner writer; each byte is looked at once.
/// After a problem nothing more is written (the caller still reads the input to stay in step).
/// </summary>
public sealed class MessageTextWriter(IBufferWriter<byte> inner, MessageTextLimits limits) : IBufferWriter<byte>
{
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    private static readonly SearchValues<byte> Special = SearchValues.Create("\r\n\0"u8);

    private byte[] _buffer = new byte[4096];
    private bool _pendingCr;
    private bool _inHeader = true;
    private long _lineLength;
    private bool _lineIsContinuation;
    private long _headerBytes;
    private long _fieldBytes;
    private int _fieldLines;
    private int _fields;

    public MessageTextProblem Problem { get; private set; }

    /// <summary>Octets written to the inner writer.</summary>
    public long Written { get; private set; }

    public void Advance(int count) => Write(_buffer.AsSpan(0, count));

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_buffer.Length < sizeHint) _buffer = new byte[Math.Max(sizeHint, _buffer.Length * 2)];
        return _buffer;
    }

    public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    /// <summary>Takes the next piece of the message.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && Problem == MessageTextProblem.None)
        {
            if (_pendingCr)
            {
                // CR LF, or a bare CR: either way one line end.
                _pendingCr = false;
                EndLine();
                if (data[0] == (byte)'\n') data = data[1..];
                continue;
            }
            var stop = data.IndexOfAny(Special);
            var run = stop < 0 ? data : data[..stop];
            if (!run.IsEmpty)
            {
                Text(run);
                data = data[run.Length..];
                continue;
            }
            switch (data[0])
            {
                case (byte)'\r':
                    _pendingCr = true;
                    break;
                case (byte)'\n':
                    EndLine(); // a bare LF
                    break;
                default:
                    Problem = MessageTextProblem.Nul;
                    return;
            }
            data = data[1..];
        }
    }

    /// <summary>Ends the message: a CR left at the very end is a line end too.</summary>
    public MessageTextProblem Complete()
    {
        if (_pendingCr && Problem == MessageTextProblem.None)
        {
            _pendingCr = false;
            EndLine();
        }
        return Problem;
    }

    private void Text(ReadOnlySpan<byte> run)
    {
        if (_inHeader)
        {
            if (_lineLength == 0) _lineIsContinuation = run[0] is (byte)' ' or (byte)'\t';
            _lineLength += run.Length;
            _headerBytes += run.Length;
            if (_lineLength == run.Length) StartHeaderLine();
            _fieldBytes += run.Length;
            if (!CheckHeader()) return;
        }
        else
        {
            _lineLength += run.Length;
        }
        Emit(run);
    }

    private void StartHeaderLine()
    {
        if (_lineIsContinuation)
        {
            _fieldLines++;
        }
        else
        {
            _fields++;
            _fieldBytes = 0;
            _fieldLines = 1;
        }
    }

    private void EndLine()
    {
        if (_inHeader)
        {
            if (_lineLength == 0)
            {
                _inHeader = false; // the empty line: the body follows
            }
            else
            {
                _headerBytes += 2;
                _fieldBytes += 2;
                if (!CheckHeader()) return;
            }
        }
        _lineLength = 0;
        Emit(Crlf);
    }

    private bool CheckHeader()
    {
        Problem = _headerBytes > limits.MaxHeaderSectionBytes ? MessageTextProblem.HeaderSectionTooLarge
            : _fieldBytes > limits.MaxHeaderFieldBytes ? MessageTextProblem.HeaderFieldTooLong
            : _fieldLines > limits.MaxHeaderFieldLines ? MessageTextProblem.HeaderFieldTooManyLines
            : _fields > limits.MaxHeaderFields ? MessageTextProblem.TooManyHeaderFields
            : MessageTextProblem.None;
        return Problem == MessageTextProblem.None;
    }

    private void Emit(ReadOnlySpan<byte> bytes)
    {
        inner.Write(bytes);
        Written += bytes.Length;
    }
}

/// <summary>Whole-message use of <see cref="MessageTextWriter"/>, for the ways in that hold the message in memory.</summary>
public static class MessageText
{
    /// <summary>The message with CRLF line ends, or the problem that refuses it.</summary>
    public static (byte[]? Text, MessageTextProblem Problem) Normalize(ReadOnlySpan<byte> message, MessageTextLimits? limits = null)
    {
        var output = new ArrayBufferWriter<byte>(message.Length + message.Length / 16 + 16);
        var writer = new MessageTextWriter(output, limits ?? MessageTextLimits.Default);
        writer.Write(message);
        var problem = writer.Complete();
        return problem == MessageTextProblem.None ? (output.WrittenSpan.ToArray(), problem) : (null, problem);
    }

    /// <summary>A sentence for the client saying what is wrong.</summary>
    public static string Describe(MessageTextProblem problem, MessageTextLimits? limits = null)
    {
        var l = limits ?? MessageTextLimits.Default;
        return problem switch
        {
            MessageTextProblem.Nul => "Message contains a NUL character",
            MessageTextProblem.HeaderSectionTooLarge => $"Message header section exceeds {l.MaxHeaderSectionBytes} bytes",
            MessageTextProblem.HeaderFieldTooLong => $"A message header field exceeds {l.MaxHeaderFieldBytes} bytes",
            MessageTextProblem.HeaderFieldTooManyLines => $"A message header field is folded over more than {l.MaxHeaderFieldLines} lines",
            MessageTextProblem.TooManyHeaderFields => $"Message has more than {l.MaxHeaderFields} header fields",
            _ => "Message text accepted",
        };
    }

    /// <summary>True for the header limits (a size problem), false for NUL (a content problem).</summary>
    public static bool IsHeaderLimit(MessageTextProblem problem) => problem is not (MessageTextProblem.None or MessageTextProblem.Nul);
}
