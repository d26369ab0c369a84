using System.Text;

namespace GrainMail.Gateways.Imap.Mime;

/// <summary>
/// Every charset MimeKit knows, available in this process. .NET has only the Unicode encodings,
/// ASCII and Latin-1 built in; GB2312, GBK, GB18030, Big5, Shift_JIS, ISO-2022-JP, KOI8-R and the
/// rest come from the code pages provider (its own tables, so InvariantGlobalization does not
/// matter), which MimeKit does not register on .NET. Without it an encoded word or a text part in
/// such a charset decodes to nothing a SEARCH could match.
/// </summary>
internal static class ImapCharsets
{
    static ImapCharsets() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>Makes sure the provider is registered (the first call registers it).</summary>
    public static void EnsureRegistered()
    {
        // The static constructor did the work.
    }

    /// <summary>The encoding MimeKit maps <paramref name="charset"/> to, or null when it knows none.</summary>
    public static Encoding? Find(string charset)
    {
        try
        {
            // MimeKit's own charset table (aliases included), through its public surface.
            return new MimeKit.ContentType("text", "plain") { Charset = charset }.CharsetEncoding;
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentException)
        {
            return null;
        }
    }
}
