using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>
/// The decoded text (transfer encoding and charset undone) of every text part of one message, read once. MimeKit decodes
/// again on every <see cref="TextPart.Text"/>, and on the MX path three readers want the texts (the linked domains of the
/// URI lists, GTUBE, the tokenizer): decoding was done three times per message before session 12.
/// </summary>
public sealed class DecodedTexts
{
    private readonly string?[] _byPart;

    private DecodedTexts(MimeMessage message, string?[] byPart, IReadOnlyList<string> texts) => (Message, _byPart, Texts) = (message, byPart, texts);

    /// <summary>The message these are the texts of (a reader checks that it was given the texts of its own message).</summary>
    public MimeMessage Message { get; }

    /// <summary>The texts of the parts that decoded, in the order of <see cref="MimeMessage.BodyParts"/>.</summary>
    public IReadOnlyList<string> Texts { get; }

    /// <summary>How many text parts the message has (decodable or not).</summary>
    public int PartCount => _byPart.Length;

    /// <summary>The text of the <paramref name="index"/>-th text part of the message, or null when it could not be decoded.</summary>
    public string? Part(int index) => _byPart[index];

    public static DecodedTexts Of(MimeMessage message)
    {
        var byPart = new List<string?>();
        var texts = new List<string>();
        foreach (var part in message.BodyParts)
        {
            if (part is not TextPart text) continue;
            var decoded = TryDecode(text);
            byPart.Add(decoded);
            if (decoded is not null) texts.Add(decoded);
        }
        return new DecodedTexts(message, [.. byPart], texts);
    }

    /// <summary>A part's text, or null for an unknown charset or a broken encoding (DecoderFallbackException is an ArgumentException).</summary>
    public static string? TryDecode(TextPart part)
    {
        try
        {
            return part.Text ?? "";
        }
        catch (Exception e) when (e is FormatException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }
}
