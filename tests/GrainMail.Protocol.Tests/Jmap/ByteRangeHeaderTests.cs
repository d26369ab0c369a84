using System.Text;
using GrainMail.Gateways.Http.LargeFiles;

namespace GrainMail.Protocol.Tests.Jmap;

/// <summary>The Range header of large-file downloads (RFC 9110 14.2): table and fuzz.</summary>
public sealed class ByteRangeHeaderTests
{
    [Theory]
    [InlineData(null, 1000, RangeKind.Whole, 0, 999)]
    [InlineData("", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=0-99", 1000, RangeKind.Partial, 0, 99)]
    [InlineData("bytes=500-", 1000, RangeKind.Partial, 500, 999)]
    [InlineData("Bytes = 500 - 600", 1000, RangeKind.Partial, 500, 600)]
    [InlineData("bytes=990-5000", 1000, RangeKind.Partial, 990, 999)]
    [InlineData("bytes=-100", 1000, RangeKind.Partial, 900, 999)]
    [InlineData("bytes=-5000", 1000, RangeKind.Partial, 0, 999)]
    [InlineData("bytes=999-999", 1000, RangeKind.Partial, 999, 999)]
    [InlineData("bytes=1000-", 1000, RangeKind.Unsatisfiable, 0, 0)]
    [InlineData("bytes=5000-6000", 1000, RangeKind.Unsatisfiable, 0, 0)]
    [InlineData("bytes=-0", 1000, RangeKind.Unsatisfiable, 0, 0)]
    [InlineData("bytes=0-", 0, RangeKind.Unsatisfiable, 0, 0)]
    // Ignored (the whole file): invalid, another unit, several ranges, last before first.
    [InlineData("bytes=100-50", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("items=0-5", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=0-5,10-20", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=abc", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=-", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=+5-10", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("bytes=99999999999999999999-", 1000, RangeKind.Whole, 0, 999)]
    [InlineData("0-5", 1000, RangeKind.Whole, 0, 999)]
    public void Answers(string? header, long length, RangeKind kind, long first, long last)
    {
        var range = ByteRangeHeader.Parse(header, length);
        Assert.Equal(kind, range.Kind);
        if (kind != RangeKind.Unsatisfiable)
        {
            Assert.Equal(first, range.First);
            Assert.Equal(last, range.Last);
        }
    }

    [Fact]
    public void Fuzzed_headers_always_give_a_range_inside_the_file()
    {
        var random = new Random(4113);
        string[] seeds = ["bytes=0-99", "bytes=500-", "bytes=-100", "bytes=0-5,10-20"];
        for (var i = 0; i < 4000; i++)
        {
            var raw = i % 2 == 0 ? Fuzz.RandomBytes(random, 40) : Fuzz.Mutate(random, Encoding.ASCII.GetBytes(seeds[random.Next(seeds.Length)]));
            var length = random.Next(0, 5000);
            var range = ByteRangeHeader.Parse(Encoding.Latin1.GetString(raw), length);
            if (range.Kind == RangeKind.Partial)
            {
                Assert.InRange(range.First, 0, length - 1);
                Assert.InRange(range.Last, range.First, length - 1);
            }
        }
    }
}
