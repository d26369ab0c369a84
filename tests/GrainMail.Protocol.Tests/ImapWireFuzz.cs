using System.IO.Pipelines;
using System.Text;
using GrainMail.Gateways.Imap.Commands;
using GrainMail.Gateways.Imap.Protocol;

namespace GrainMail.Protocol.Tests;

/// <summary>
/// The seeded read-and-parse fuzz run the IMAP parser test classes share: inputs go through the real
/// command reader, then the parser, as on a connection.
/// </summary>
internal static class ImapWireFuzz
{
    /// <summary>
    /// <paramref name="iterations"/> inputs: every fourth is <paramref name="randomAfter"/> followed by up to 60
    /// random bytes and CRLF, the others are mutations of <paramref name="seedCommands"/> (each sent with CRLF).
    /// Every command the reader hands over must parse to a tagged command, or to a parse error that says why
    /// (what the session answers BAD with); whatever the reader refuses itself is answered from its status.
    /// </summary>
    public static async Task RunAsync(int seed, string randomAfter, IEnumerable<string> seedCommands, int maxLine, int iterations = 3000)
    {
        var random = new Random(seed);
        var seeds = seedCommands.Select(s => Encoding.UTF8.GetBytes(s + "\r\n")).ToArray();
        var prefix = Encoding.UTF8.GetBytes(randomAfter);
        for (var i = 0; i < iterations; i++)
        {
            var input = i % 4 == 0 ? [.. prefix, .. Fuzz.RandomBytes(random, 60), (byte)'\r', (byte)'\n'] : Fuzz.Mutate(random, seeds[random.Next(seeds.Length)]);
            var pipe = new Pipe();
            await pipe.Writer.WriteAsync(input);
            await pipe.Writer.CompleteAsync();
            var reader = new ImapCommandReader(pipe.Reader) { MaxLine = maxLine, MaxCommand = 1000 };
            // Every command the input holds, until the reader says the connection is done.
            for (var n = 0; n < 50; n++)
            {
                var (status, raw) = await reader.ReadCommandAsync(_ => 100, () => Task.CompletedTask, CancellationToken.None);
                if (status == ReadStatus.Closed) break;
                if (status != ReadStatus.Command) continue;
                var command = ImapCommandParser.Parse(raw!, utf8: random.Next(2) == 0);
                Assert.False(string.IsNullOrEmpty(command.Tag));
                if (command is ImapParseError error) Assert.False(string.IsNullOrWhiteSpace(error.Reason));
            }
        }
    }
}
