using System.Buffers;
using System.IO.Pipelines;

namespace GrainMail.Gateways.Smtp;

public enum LineStatus
{
    Line,
    TooLong,
    Closed,
}

public enum DataStatus
{
    Complete,
    TooLarge,
    Closed,

    /// <summary>The client sent slower than the minimum data rate (slowloris).</summary>
    TooSlow,
}

/// <summary>Limits on how a client may send message data.</summary>
/// <param name="Idle">Longest wait for the next block of data.</param>
/// <param name="MinBytesPerSecond">Average rate below which, after <paramref name="Grace"/>, the transfer is abandoned.</param>
public sealed record DataPace(TimeSpan Idle, int MinBytesPerSecond, TimeSpan Grace)
{
    internal bool TooSlow(long received, long startTimestamp)
    {
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp);
        return MinBytesPerSecond > 0 && elapsed > Grace && received < MinBytesPerSecond * elapsed.TotalSeconds;
    }
}

/// <summary>
/// Streaming reads of SMTP input over a PipeReader: command lines with a length limit, DATA with
/// dot-unstuffing, BDAT chunks. DATA ends only at CRLF "." CRLF: a bare LF or CR next to a dot is
/// message content (no SMTP smuggling).
/// </summary>
public sealed class SmtpReader(PipeReader reader)
{
    private static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    /// <summary>True when input is buffered beyond what was consumed (used to refuse pipelining past STARTTLS).</summary>
    public bool HasBufferedInput { get; private set; }

    /// <summary>True when a whole further line is already buffered: the client pipelines, so replies may wait for it.</summary>
    public bool HasBufferedLine { get; private set; }

    private void NoteRemainder(ReadOnlySequence<byte> rest)
    {
        HasBufferedInput = !rest.IsEmpty;
        HasBufferedLine = rest.PositionOf((byte)'\n') is not null;
    }

    /// <summary>Reads one command line (terminated by LF; a CR before it is dropped).</summary>
    public async Task<(LineStatus Status, byte[] Line)> ReadLineAsync(int maxLength, CancellationToken ct)
    {
        var discarding = false;
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            var buffer = result.Buffer;
            var lf = buffer.PositionOf((byte)'\n');
            if (lf is SequencePosition end)
            {
                var line = buffer.Slice(buffer.Start, end);
                var next = buffer.GetPosition(1, end);
                var tooLong = discarding || line.Length + 1 > maxLength;
                // Copy before AdvanceTo: the buffer's memory goes back to the pipe after it.
                var bytes = tooLong ? [] : line.ToArray();
                NoteRemainder(buffer.Slice(next));
                reader.AdvanceTo(next);
                if (tooLong) return (LineStatus.TooLong, []);
                if (bytes.Length > 0 && bytes[^1] == (byte)'\r') Array.Resize(ref bytes, bytes.Length - 1);
                return (LineStatus.Line, bytes);
            }
            if (buffer.Length > maxLength)
            {
                // Too long already: drop what we have and keep dropping until the line ends.
                discarding = true;
                reader.AdvanceTo(buffer.End);
            }
            else
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
            if (result.IsCompleted) return (LineStatus.Closed, []);
        }
    }

    /// <summary>
    /// Reads DATA up to CRLF.CRLF into <paramref name="sink"/>, removing dot-stuffing. Beyond
    /// <paramref name="maxBytes"/> the rest is read and dropped, so that the session stays in step.
    /// </summary>
    public async Task<DataStatus> ReadDataAsync(IBufferWriter<byte> sink, long maxBytes, DataPace pace, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        long received = 0;
        long written = 0;
        var atLineStart = true;
        var tooLarge = false;
        while (true)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(pace.Idle);
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var seq = new SequenceReader<byte>(buffer);
            while (true)
            {
                if (seq.TryReadTo(out ReadOnlySequence<byte> line, Crlf, advancePastDelimiter: true))
                {
                    if (atLineStart && line.Length == 1 && line.FirstSpan[0] == (byte)'.')
                    {
                        NoteRemainder(buffer.Slice(seq.Position));
                        reader.AdvanceTo(seq.Position);
                        return tooLarge ? DataStatus.TooLarge : DataStatus.Complete;
                    }
                    if (atLineStart && line.Length > 0 && line.FirstSpan[0] == (byte)'.') line = line.Slice(1);
                    Append(line, true);
                    atLineStart = true;
                    continue;
                }
                // No complete line: pass on all but a possible trailing CR (the start of CRLF),
                // so that a long line never has to be buffered whole.
                var rest = buffer.Slice(seq.Position);
                if (rest.Length > 1)
                {
                    var keep = rest.Slice(rest.Length - 1).FirstSpan[0] == (byte)'\r' ? 1 : 0;
                    var part = rest.Slice(0, rest.Length - keep);
                    if (atLineStart && part.FirstSpan[0] == (byte)'.')
                    {
                        // Need the next byte to know whether this is the terminator or stuffing.
                        if (part.Length < 2) break;
                        part = part.Slice(1);
                    }
                    Append(part, false);
                    atLineStart = false;
                    seq.Advance(rest.Length - keep);
                }
                break;
            }
            received += seq.Consumed;
            reader.AdvanceTo(seq.Position, buffer.End);
            if (result.IsCompleted) return DataStatus.Closed;
            if (pace.TooSlow(received, started)) return DataStatus.TooSlow;
        }

        void Append(ReadOnlySequence<byte> data, bool crlf)
        {
            var n = data.Length + (crlf ? 2 : 0);
            if (tooLarge || written + n > maxBytes)
            {
                tooLarge = true;
                return;
            }
            foreach (var segment in data) sink.Write(segment.Span);
            if (crlf) sink.Write(Crlf);
            written += n;
        }
    }

    /// <summary>Reads exactly <paramref name="size"/> bytes of a BDAT chunk (no unstuffing), dropping what exceeds the limit.</summary>
    public async Task<DataStatus> ReadChunkAsync(IBufferWriter<byte> sink, long size, long room, DataPace pace, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var remaining = size;
        var tooLarge = size > room;
        while (remaining > 0)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(pace.Idle);
            var result = await reader.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var take = buffer.Slice(0, Math.Min(remaining, buffer.Length));
            if (!tooLarge)
            {
                foreach (var segment in take) sink.Write(segment.Span);
            }
            remaining -= take.Length;
            NoteRemainder(buffer.Slice(take.End));
            reader.AdvanceTo(take.End);
            if (remaining > 0 && result.IsCompleted) return DataStatus.Closed;
            if (remaining > 0 && pace.TooSlow(size - remaining, started)) return DataStatus.TooSlow;
        }
        return tooLarge ? DataStatus.TooLarge : DataStatus.Complete;
    }
}
