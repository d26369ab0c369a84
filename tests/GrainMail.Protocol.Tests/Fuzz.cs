namespace GrainMail.Protocol.Tests;

/// <summary>Inputs for fuzz runs: random bytes, and valid commands with bytes flipped, dropped, repeated or inserted.</summary>
internal static class Fuzz
{
    private static readonly byte[] Interesting = "\0\r\n \"(){}[]*%\\:,+-.<>0123456789$\u00ff"u8.ToArray();

    public static byte[] RandomBytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(maxLength + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    public static byte[] Mutate(Random random, byte[] seed)
    {
        var bytes = new List<byte>(seed);
        var edits = 1 + random.Next(4);
        for (var e = 0; e < edits; e++)
        {
            var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1 when bytes.Count > 0:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    bytes.Insert(at, Interesting[random.Next(Interesting.Length)]);
                    break;
                case 3 when bytes.Count > 0:
                    // Repeat a slice: deep nesting, long numbers, doubled tokens.
                    var length = Math.Min(bytes.Count - at, 1 + random.Next(8));
                    var slice = bytes.GetRange(at, length);
                    for (var r = random.Next(1, 6); r > 0; r--) bytes.InsertRange(at, slice);
                    break;
                default:
                    if (bytes.Count > 0) bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }
        return [.. bytes];
    }
}
