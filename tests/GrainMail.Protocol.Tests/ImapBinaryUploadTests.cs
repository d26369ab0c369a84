using System.Text;
using GrainMail.Gateways.Imap.Mime;
using GrainMail.Gateways.Common.Mime;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// APPEND of binary content (RFC 3516 4.4) made storable: binary parts are re-encoded so that
/// BINARY[part] gives back exactly the octets the client sent; everything else is left alone.
/// </summary>
public sealed class ImapBinaryUploadTests
{
    private static readonly byte[] Octets = [0x00, 0x0a, (byte)'x', 0x0d, 0x0d, 0x0a, 0xff, 0x00];

    private static byte[] Multipart(string encoding, byte[] content) =>
    [
        .. "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\npreamble\r\n"u8,
        .. "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße binary\r\n"u8,
        .. Encoding.ASCII.GetBytes($"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"),
        .. content,
        .. "\r\n--b--\r\n"u8,
    ];

    [Theory]
    [InlineData("binary")]
    [InlineData("8bit")]
    public void A_binary_part_is_kept_base64_encoded_and_decodes_to_the_same_octets(string encoding)
    {
        var (outcome, stored) = BinaryUpload.MakeStorable(Multipart(encoding, Octets));

        Assert.Equal(BinaryUpload.Outcome.Reencoded, outcome);
        Assert.DoesNotContain((byte)0, stored);
        var root = MimeNode.Parse(stored);
        var (decodeOutcome, bytes) = BinaryContent.Decode(stored, root, [2]);
        Assert.Equal(BinaryContent.Outcome.Ok, decodeOutcome);
        Assert.Equal(Octets, bytes);
        // The text part and the headers are written back as they came.
        Assert.Equal("Grüße binary", Encoding.UTF8.GetString(BinaryContent.Decode(stored, root, [1]).Bytes));
        Assert.StartsWith("Subject: s\r\nMIME-Version: 1.0\r\n", Encoding.UTF8.GetString(stored));
        Assert.Contains("\r\n\r\npreamble\r\n", Encoding.UTF8.GetString(stored));
    }

    [Fact]
    public void Text_without_binary_content_is_stored_as_sent()
    {
        var plain = "Subject: about binary search\r\n\r\nBinary trees.\r\n"u8.ToArray();
        var (outcome, stored) = BinaryUpload.MakeStorable(plain);
        Assert.Equal(BinaryUpload.Outcome.Unchanged, outcome);
        Assert.Same(plain, stored);
        var base64 = Multipart("base64", "AAEC\r\n"u8.ToArray());
        Assert.Same(base64, BinaryUpload.MakeStorable(base64).Message);
    }

    [Fact]
    public void A_NUL_outside_every_part_body_cannot_be_stored()
    {
        Assert.Equal(BinaryUpload.Outcome.Unstorable, BinaryUpload.MakeStorable("Subject: a\0b\r\n\r\nbody\r\n"u8.ToArray()).Outcome);
    }

    [Fact]
    public void Random_uploads_never_throw()
    {
        var random = new Random(3516);
        var valid = Multipart("binary", Octets);
        for (var i = 0; i < 300; i++)
        {
            var bytes = i % 2 == 0 ? new byte[random.Next(0, 300)] : (byte[])valid.Clone();
            if (i % 2 == 0) random.NextBytes(bytes);
            else for (var k = 0; k < 5; k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            var (outcome, stored) = BinaryUpload.MakeStorable(bytes);
            // Whatever is accepted is storable message text: no NUL.
            if (outcome != BinaryUpload.Outcome.Unstorable) Assert.DoesNotContain((byte)0, stored);
        }
    }
}
