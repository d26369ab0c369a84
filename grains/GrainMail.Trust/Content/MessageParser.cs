using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>
/// <see cref="MimeMessage.Load(Stream, CancellationToken)"/> for a message already in memory, with one
/// <see cref="MimeParser"/> per thread instead of a new one per message: the parser's input buffer (4 KB and more) and its
/// lists were allocated for every MX message (session 16). The parse is synchronous, so a thread's parser is used by one
/// message at a time; it is taken while in use, so a parse that begins inside another on the same thread gets a new one.
/// The message it returns holds no reference to the parser (its contents are copied out, as <c>persistent: false</c>
/// does), and <see cref="MimeParser.SetStream(Stream, MimeFormat, bool)"/> resets every state a parse leaves, also one
/// that threw.
/// </summary>
public static class MessageParser
{
    [ThreadStatic]
    private static MimeParser? t_parser;

    /// <summary>The message in <paramref name="raw"/>, as <c>MimeMessage.Load(new MemoryStream(raw))</c> parses it.</summary>
    public static MimeMessage Parse(byte[] raw, CancellationToken ct = default)
    {
        var parser = t_parser;
        t_parser = null;
        using var stream = new MemoryStream(raw, writable: false);
        if (parser is null) parser = new MimeParser(ParserOptions.Default, stream, MimeFormat.Entity, persistent: false);
        else parser.SetStream(stream, MimeFormat.Entity, persistent: false);
        try
        {
            return parser.ParseMessage(ct);
        }
        finally
        {
            // Not kept holding this message's bytes until the thread's next parse.
            parser.SetStream(Stream.Null, MimeFormat.Entity, persistent: false);
            t_parser = parser;
        }
    }
}
