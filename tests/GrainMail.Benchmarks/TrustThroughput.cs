using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Dns;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Dns;
using GrainMail.Trust.Inbound;
using GrainMail.Trust.Scoring;
using GrainMail.Trust.Viruses;
using GrainMail.Tests.Infrastructure;
using MimeKit;
using MimeKit.Cryptography;
using Org.BouncyCastle.Security;

/// <summary>
/// The inbound check pipeline alone, in messages per second: parse, SPF (MAIL FROM and HELO), DKIM
/// (rsa-sha256, 2048-bit keys), DMARC, ARC, two DNS blocklists for the client IP and one URI list for
/// the linked domain, scoring; optionally a clamd scan. Every DNS question goes over UDP to a local
/// server (the tests' TestDnsServer, TTL 1 s) through the node's MailDns, as on a silo.
///   trust [messages] [concurrency] [--clamd unix:/path|host:port]
///   dns PORT        serve the same zone until killed (for the end-to-end run with GRAINMAIL_DNS)
/// </summary>
internal static class TrustThroughput
{
    private const int Domains = 20;

    public static TestDnsServer Zone(out Dictionary<string, Org.BouncyCastle.Crypto.AsymmetricKeyParameter> keys)
    {
        var dns = new TestDnsServer();
        keys = [];
        for (var i = 0; i < Domains; i++)
        {
            var domain = $"d{i}.bench";
            using var rsa = RSA.Create(2048);
            keys[domain] = PrivateKeyFactory.CreateKey(rsa.ExportPkcs8PrivateKey());
            dns.Txt[domain] = ["v=spf1 ip4:127.0.0.0/8 -all"];
            dns.Txt["_dmarc." + domain] = ["v=DMARC1; p=quarantine"];
            dns.Txt["sel._domainkey." + domain] = ["v=DKIM1; k=rsa; p=" + Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())];
        }
        // Every tenth client network is listed in bl1.
        for (var n = 0; n < 256; n += 10) dns.A[$"1.{n}.1.127.bl1.bench"] = IPAddress.Parse("127.0.0.2");
        return dns;
    }

    public static async Task<int> ServeDnsAsync(string[] args)
    {
        using var dns = Zone(out _);
        Console.WriteLine($"dns 127.0.0.1:{dns.Port}");
        await File.WriteAllTextAsync(args.Length > 1 ? args[1] : "/dev/null", dns.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Task.Delay(Timeout.Infinite);
        return 0;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 1 && int.TryParse(args[1], out var c) ? c : 3000;
        var concurrency = args.Length > 2 && int.TryParse(args[2], out var k) ? k : 32;
        var clamdAt = Array.IndexOf(args, "--clamd") is var at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;

        using var dns = Zone(out var keys);
        var mailDns = new MailDns(new DnsOptions { Resolvers = $"127.0.0.1:{dns.Port}" });
        var checker = new InboundChecker(new MailDnsTrustResolver(mailDns), PublicSuffixList.Load(PublicSuffixList.DefaultPath), new TrustOptions(),
            TimeProvider.System, "mx.bench");
        ClamdClient? clamd = clamdAt is null ? null : new ClamdClient(new ClamdOptions { Endpoint = clamdAt }, TimeProvider.System);
        SpamZone[] ipZones = [new("bl1.bench", 7), new("bl2.bench", 7)];
        SpamZone[] uriZones = [new("uribl.bench", 5)];

        // Signed beforehand: the sender's work is not ours.
        var messages = new (byte[] Raw, string Sender, string Ip)[count];
        for (var i = 0; i < count; i++)
        {
            var domain = $"d{i % Domains}.bench";
            var m = new MimeMessage();
            m.From.Add(new MailboxAddress("Sender", $"news@{domain}"));
            m.To.Add(new MailboxAddress("", $"user{i % 50}@grainmail.bench"));
            m.Subject = $"Newsletter {i}";
            m.Date = DateTimeOffset.UtcNow;
            m.MessageId = $"{i}.{Guid.NewGuid():N}@{domain}";
            m.Body = new TextPart("plain") { Text = $"Hello,\r\nthis week's offers: https://www.{domain}/offer/{i}\r\n" + new string('x', 3000) + "\r\n" };
            var signer = new DkimSigner(keys[domain], domain, "sel") { HeaderCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed, BodyCanonicalizationAlgorithm = DkimCanonicalizationAlgorithm.Relaxed };
            m.Prepare(EncodingConstraint.SevenBit);
            signer.Sign(m, [HeaderId.From, HeaderId.To, HeaderId.Subject, HeaderId.Date, HeaderId.MessageId]);
            using var ms = new MemoryStream();
            m.WriteTo(FormatOptions.Default.Clone(), ms);
            messages[i] = (ms.ToArray(), $"news@{domain}", $"127.1.{i / 250 % 256}.{i % 250 + 1}");
        }

        var decisions = new int[Enum.GetValues<TrustAction>().Length];
        var scanned = 0;
        async Task One(int i)
        {
            var (raw, sender, ip) = messages[i];
            if (clamd is not null)
            {
                var scan = await clamd.ScanAsync((size, ct) => Pieces(raw, size), raw.Length);
                if (scan.Verdict == ScanVerdict.Clean) Interlocked.Increment(ref scanned);
            }
            MimeMessage message;
            using (var s = new MemoryStream(raw, writable: false)) message = await MimeMessage.LoadAsync(s);
            var report = await checker.CheckAsync(new InboundEvidence(ip, "mail." + sender.Split('@')[1]), sender, message, ipZones, uriZones, i % 100, CancellationToken.None);
            var d = SpamScorer.Decide(report, SpamPolicy.Default, ipZones);
            Interlocked.Increment(ref decisions[(int)d.Action]);
        }

        // Warm up (JIT, first DNS answers), then measure.
        for (var i = 0; i < Math.Min(100, count); i++) await One(i);
        Array.Clear(decisions);
        scanned = 0;
        var started = Stopwatch.GetTimestamp();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count) await One(i);
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"pipeline messages={count} concurrency={concurrency} clamd={(clamd is null ? "off" : "on")} seconds={seconds:F2} msg_per_s={count / seconds:F0} "
            + string.Join(' ', Enum.GetValues<TrustAction>().Select(a => $"{a.ToString().ToLowerInvariant()}={decisions[(int)a]}"))
            + (clamd is null ? "" : $" scanned_clean={scanned}"));
        if (clamd is not null) await clamd.DisposeAsync();
        return 0;
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Pieces(byte[] bytes, int size)
    {
        await Task.CompletedTask;
        for (var o = 0; o < bytes.Length; o += size) yield return bytes.AsMemory(o, Math.Min(size, bytes.Length - o));
    }
}
