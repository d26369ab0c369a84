using System.Text;

namespace GrainMail.Tests.Infrastructure;

public static class Messages
{
    public static byte[] Simple(string from, string to, string subject, string body) => Encoding.UTF8.GetBytes(
        $"From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{Guid.NewGuid():N}@test>\r\nDate: {DateTimeOffset.UtcNow:R}\r\n" +
        $"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n");

    /// <summary>A message of about <paramref name="size"/> bytes with a unique body.</summary>
    public static byte[] OfSize(string from, string to, int size, int seed)
    {
        var sb = new StringBuilder();
        var rnd = new Random(seed);
        while (sb.Length < size)
        {
            for (var i = 0; i < 76; i++) sb.Append((char)('a' + rnd.Next(26)));
            sb.Append("\r\n");
        }
        return Simple(from, to, $"message {seed}", sb.ToString());
    }
}
