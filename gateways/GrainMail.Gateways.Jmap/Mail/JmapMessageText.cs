using GrainMail.Gateways.Common.Messages;
using MimeKit;

namespace GrainMail.Gateways.Jmap.Mail;

/// <summary>A message that passed <see cref="JmapMessageText.Read"/>: its bytes with CRLF line ends, and their parse.</summary>
public sealed record CheckedMessage(byte[] Raw, MimeMessage Message);

/// <summary>
/// The message-text rule of every way in as JMAP applies it, wherever a message is stored or sent — Email/set's built
/// message, Email/import's blob, EmailSubmission/set's Email: <see cref="MessageText"/> (line ends become CRLF, a NUL or a
/// header section over the limits is refused, as SMTP DATA, IMAP APPEND and the admin API refuse them), then SMTP DATA's
/// header check (the header section holds at least one field, or 554 5.6.0 there). One function, so the three cannot drift
/// apart; each caller turns the problem into its method's SetError (RFC 8621 4.8 and 7.5: invalidEmail).
/// </summary>
public static class JmapMessageText
{
    private const string NoHeader = "The message has no header fields";

    /// <summary>The checked message, or a sentence saying why it is refused.</summary>
    public static (CheckedMessage? Message, string? Problem) Read(ReadOnlySpan<byte> raw, MessageTextLimits limits)
    {
        var (text, problem) = MessageText.Normalize(raw, limits);
        if (text is null) return (null, MessageText.Describe(problem, limits));
        // The empty line first: the header section is empty (MimeKit may call that a parse error or no fields; either way this).
        if (text.AsSpan().StartsWith("\r\n"u8)) return (null, NoHeader);
        MimeMessage message;
        try
        {
            using var s = new MemoryStream(text, writable: false);
            message = MimeMessage.Load(s);
        }
        catch (FormatException e)
        {
            return (null, "The message cannot be parsed: " + e.Message);
        }
        if (message.Headers.Count == 0) return (null, NoHeader);
        return (new CheckedMessage(text, message), null);
    }
}
