using GrainMail.Operations.Spool;
using System.Buffers;
using System.Text;
using GrainMail.Storage.Blobs;

namespace GrainMail.Tests;

public sealed class MessageSpoolTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(MessageSpool.FrameSize)]
    [InlineData(3 * 1024 * 1024 + 7)]
    public async Task Content_comes_back_identical_whether_it_stays_in_memory_or_spills(int size)
    {
        var dir = Path.Combine(Path.GetTempPath(), "spooltest-" + Guid.NewGuid().ToString("N"));
        var data = new byte[size];
        new Random(size).NextBytes(data);
        using (var spool = new MessageSpool(dir, memoryLimit: 256 * 1024))
        {
            // Written in uneven pieces, as a network read would deliver them.
            var rnd = new Random(1);
            for (var o = 0; o < size;)
            {
                var n = Math.Min(1 + rnd.Next(100_000), size - o);
                spool.Write(data.AsSpan(o, n));
                o += n;
            }
            Assert.Equal(size, spool.Length);
            Assert.Equal(size > 256 * 1024, spool.Spilled);
            var content = new MessageContent(Encoding.ASCII.GetBytes("Head: x\r\n"), spool);
            var all = await content.ToArrayAsync();
            Assert.Equal("Head: x\r\n"u8.ToArray(), all[..9]);
            Assert.Equal(data, all[9..]);
            // A second pass (hash first, then the blob write) reads the same bytes.
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(all), await content.HashAsync());
            Assert.Equal(data, (await content.ToArrayAsync())[9..]);
            Assert.Equal(data.AsSpan(0, Math.Min(size, 256 * 1024)).ToArray(), spool.Head.ToArray());
            // The spool file is unlinked as soon as it is made: nothing readable is left in the directory.
            if (Directory.Exists(dir)) Assert.Empty(Directory.GetFiles(dir));
        }
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
    }
}
