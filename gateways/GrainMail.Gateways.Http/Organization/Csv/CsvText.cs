using System.Text;

namespace GrainMail.Gateways.Http.Organization.Csv;

/// <summary>
/// The text of an uploaded CSV file. Spreadsheets save UTF-8 with or without a byte order mark,
/// and Chinese editions save GB18030 (a superset of GBK and GB2312): valid UTF-8 is taken as
/// UTF-8, anything else as GB18030, which decodes every byte sequence.
/// </summary>
public static class CsvText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static CsvText() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>GB18030's Windows code page number.</summary>
    public const int Gb18030CodePage = 54936;

    public static Encoding Gb18030 => Encoding.GetEncoding(Gb18030CodePage);

    /// <summary>The decoded text and the name of the encoding it was found in ("utf-8", "utf-8-bom" or "gb18030").</summary>
    public static (string Text, string Encoding) Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) return (StrictOrLenient(bytes[3..]), "utf-8-bom");
        try
        {
            return (StrictUtf8.GetString(bytes), "utf-8");
        }
        catch (DecoderFallbackException)
        {
            return (Gb18030.GetString(bytes), "gb18030");
        }
    }

    // A file that says it is UTF-8 is read as UTF-8; a broken sequence becomes U+FFFD, which the row checks then report.
    private static string StrictOrLenient(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
