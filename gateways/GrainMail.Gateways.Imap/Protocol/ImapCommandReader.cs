using System.Buffers;
using System.IO.Pipelines;
using GrainMail.Gateways.Common.Protocol;

namespace GrainMail.Gateways.Imap.Protocol;

public enum ReadStatus
{
    Command,
    Closed,

    /// <summary>A line longer than the limit; it was skipped up to its end.</summary>
    LineTooLong,

    /// <summary>A synchronising literal over the limit: refused before any of it was sent.</summary>
    LiteralTooLarge,

    /// <summary>A non-synchronising literal over the limit: its bytes are already on the way, so the session ends.</summary>
    LiteralPlusTooLarge,

    /// <summary>The command's parts together exceed the per-command limit.</summary>
    CommandTooLarge,
}

/// <summary>One command as received: its line pieces with the literals between them.</summary>
public sealed class RawCommand
{
    public List<ReadOnlyMemory<byte>> Parts { get; } = [];

    /// <summary>True for the parts that came as literals (odd positions only when literals were sent).</summary>
    public List<bool> IsLiteral { get; } = [];

    /// <summary>The first line, for reading the tag when the command is refused.</summary>
    public byte[] FirstLine { get; set; } = [];
}

/// <summary>
/// Reads IMAP commands from the connection: CRLF lines, where a line ending in <c>{n}</c> or
/// <c>{n+}</c> is followed by n octets of literal and then the rest of the command. Every piece
/// is bounded: a line by <see cref="MaxLine"/>, a literal by the limit the caller gives for the
/// command (APPEND gets APPENDLIMIT), a whole command by <see cref="MaxCommand"/> beyond its
/// largest literal. A synchronising literal over the limit is refused before the client sends it.
/// </summary>
public sealed class ImapCommandReader(PipeReader input)
{
    public int MaxLine { get; init; } = 64 * 1024;

    public int MaxCommand { get; init; } = 1024 * 1024;

    /// <summary>
    /// Called when a literal has been read and nothing after it has arrived yet: the transport
    /// acknowledges at once, so that a client holding back the rest of the line until its literal
    /// is acknowledged (Nagle) does not wait for the delayed-ACK timer.
    /// </summary>
    public Action? AcknowledgeNow { get; init; }

    /// <summary>Reads one command.</summary>
    /// <param name="literalLimit">Largest literal allowed, given the command's first line.</param>
    /// <param name="continueLiteral">Sends the "+" continuation before a synchronising literal.</param>
    public async Task<(ReadStatus Status, RawCommand? Command)> ReadCommandAsync(
        Func<byte[], long> literalLimit, Func<Task> continueLiteral, CancellationToken ct)
    {
        var command = new RawCommand();
        long limit = -1;
        var total = 0L;
        // The largest literal (an APPEND message) is bounded by the literal limit alone; everything
        // else of the command together by MaxCommand. Counting the message against MaxCommand too
        // refused every APPEND over 1 MiB with "BAD Command too long".
        var largest = 0L;
        while (true)
        {
            var (status, line) = await ReadLineAsync(ct);
            if (status != ReadStatus.Command) return (status, command.Parts.Count == 0 ? null : command);
            if (command.Parts.Count == 0)
            {
                command.FirstLine = line;
                limit = literalLimit(line);
            }
            total += line.Length;
            if (total - largest > MaxCommand) return (ReadStatus.CommandTooLarge, command);
            var literal = LiteralAtEnd(line, out var size, out var nonSync);
            if (!literal)
            {
                command.Parts.Add(line);
                command.IsLiteral.Add(false);
                return (ReadStatus.Command, command);
            }
            command.Parts.Add(line.AsMemory(0, line.Length - literal.Length()));
            command.IsLiteral.Add(false);
            if (size > limit || total + size - Math.Max(largest, size) > MaxCommand + limit)
                return (nonSync ? ReadStatus.LiteralPlusTooLarge : ReadStatus.LiteralTooLarge, command);
            if (!nonSync) await continueLiteral();
            var bytes = await ReadExactAsync((int)size, ct);
            if (bytes is null) return (ReadStatus.Closed, null);
            if (AcknowledgeNow is { } ack && !HasBufferedInput()) ack();
            total += size;
            largest = Math.Max(largest, size);
            command.Parts.Add(bytes);
            command.IsLiteral.Add(true);
        }
    }

    private CrlfLineReader? _lines;

    /// <summary>Reads one line without its CRLF (a bare LF is accepted as the end too).</summary>
    public async Task<(ReadStatus Status, byte[] Line)> ReadLineAsync(CancellationToken ct)
    {
        var (status, line) = await (_lines ??= new CrlfLineReader(input, MaxLine)).ReadLineAsync(ct);
        return status switch
        {
            LineStatus.Line => (ReadStatus.Command, line),
            LineStatus.TooLong => (ReadStatus.LineTooLong, line),
            _ => (ReadStatus.Closed, line),
        };
    }

    private async Task<byte[]?> ReadExactAsync(int size, CancellationToken ct)
    {
        var bytes = new byte[size];
        var got = 0;
        while (got < size)
        {
            var result = await input.ReadAsync(ct);
            var buffer = result.Buffer;
            var take = (int)Math.Min(buffer.Length, size - got);
            buffer.Slice(0, take).CopyTo(bytes.AsSpan(got));
            got += take;
            input.AdvanceTo(buffer.GetPosition(take));
            if (got < size && result.IsCompleted) return null;
        }
        return bytes;
    }

    private bool HasBufferedInput()
    {
        if (!input.TryRead(out var result)) return false;
        var any = !result.Buffer.IsEmpty;
        input.AdvanceTo(result.Buffer.Start);
        return any;
    }

    /// <summary>Recognises a trailing <c>{n}</c> or <c>{n+}</c> and gives its length in the line.</summary>
    internal static LiteralMarker LiteralAtEnd(byte[] line, out long size, out bool nonSync)
    {
        size = 0;
        nonSync = false;
        if (line.Length < 3 || line[^1] != '}') return default;
        var i = line.Length - 2;
        if (line[i] == '+')
        {
            nonSync = true;
            i--;
        }
        var digitsEnd = i;
        while (i >= 0 && line[i] >= '0' && line[i] <= '9') i--;
        if (i < 0 || line[i] != '{' || i == digitsEnd) return default;
        // More digits than a long holds is simply "too large", refused like any other oversize literal.
        if (digitsEnd - i > 18) size = long.MaxValue;
        else for (var j = i + 1; j <= digitsEnd; j++) size = size * 10 + (line[j] - '0');
        return new LiteralMarker(line.Length - i);
    }
}

public readonly record struct LiteralMarker(int MarkerLength)
{
    public int Length() => MarkerLength;

    public static implicit operator bool(LiteralMarker m) => m.MarkerLength > 0;
}
