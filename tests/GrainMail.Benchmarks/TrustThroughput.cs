using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using GrainMail.Contracts.Trust;
using GrainMail.Dns;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Blocklists;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dns;
using GrainMail.Trust.Inbound;
using GrainMail.Trust.Scoring;
using GrainMail.Trust.Spf;
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
///   trust [messages] [concurrency] [--clamd unix:/path|host:port] [--memory-dns] [--profile] [--no-negative-cache]
/// --memory-dns answers from the zone's dictionaries in process (no UDP, no resolver cache): the checks' own
/// cost without DNS. --profile runs the messages one at a time and times each stage with a stopwatch.
///   dns PORT        serve the same zone until killed (for the end-to-end run with GRAINMAIL_DNS)
/// </summary>
internal static class TrustThroughput
{
    private const int Domains = 20;

    public static TestDnsServer Zone(out Dictionary<string, Org.BouncyCastle.Crypto.AsymmetricKeyParameter> keys)
    {
        // Negative answers carry an SOA with the same 1 s as every positive TTL here (RFC 2308 3).
        var dns = new TestDnsServer { NegativeTtl = 1 };
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
        var mailDns = new MailDns(new DnsOptions
        {
            Resolvers = $"127.0.0.1:{dns.Port}",
            NegativeCacheMaximum = args.Contains("--no-negative-cache") ? TimeSpan.Zero : TimeSpan.FromHours(1),
        });
        ITrustDns trustDns = args.Contains("--memory-dns") ? new MemoryDns(dns) : new MailDnsTrustResolver(mailDns);
        var suffixes = PublicSuffixList.Load(PublicSuffixList.DefaultPath);
        var checker = new InboundChecker(trustDns, suffixes, new TrustOptions(), TimeProvider.System, "mx.bench");
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
            // As on the silo (IntakeCommit): the scan and the DNS checks overlap.
            var scan = clamd?.ScanAsync((size, ct) => Pieces(raw, size), raw.Length);
            MimeMessage message;
            using (var s = new MemoryStream(raw, writable: false)) message = await MimeMessage.LoadAsync(s);
            var report = await checker.CheckAsync(new InboundEvidence(ip, "mail." + sender.Split('@')[1]), sender, message, ipZones, uriZones, i % 100, CancellationToken.None);
            if (scan is not null && (await scan).Verdict == ScanVerdict.Clean) Interlocked.Increment(ref scanned);
            var d = SpamScorer.Decide(report, SpamPolicy.Default, ipZones);
            Interlocked.Increment(ref decisions[(int)d.Action]);
        }

        // Warm up (JIT, first DNS answers), then measure.
        for (var i = 0; i < Math.Min(100, count); i++) await One(i);
        if (args.Contains("--profile")) return await ProfileAsync(messages, trustDns, suffixes, ipZones, uriZones, clamd);
        Array.Clear(decisions);
        scanned = 0;
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count) await One(i);
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine($"pipeline messages={count} concurrency={concurrency} clamd={(clamd is null ? "off" : "on")} seconds={seconds:F2} msg_per_s={count / seconds:F0} "
            + string.Join(' ', Enum.GetValues<TrustAction>().Select(a => $"{a.ToString().ToLowerInvariant()}={decisions[(int)a]}"))
            + (clamd is null ? "" : $" scanned_clean={scanned}")
            + $" process_cpu_ms_per_msg={(Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds / count:F2} dns={(trustDns is MemoryDns ? "memory" : "udp")}"
            + (args.Contains("--no-negative-cache") ? " negative_cache=off" : ""));
        if (clamd is not null) await clamd.DisposeAsync();
        return 0;
    }

    /// <summary>Each stage of the pipeline alone, one message at a time: mean wall time per message.</summary>
    private static async Task<int> ProfileAsync((byte[] Raw, string Sender, string Ip)[] messages, ITrustDns dns, PublicSuffixList suffixes,
        SpamZone[] ipZones, SpamZone[] uriZones, ClamdClient? clamd)
    {
        var spf = new SpfChecker(dns, "mx.bench", TimeProvider.System);
        var dkim = new DkimChecker(dns);
        var arc = new ArcChecker(dns);
        var dmarc = new GrainMail.Trust.Dmarc.DmarcChecker(dns, suffixes);
        var lists = new BlocklistChecker(dns);
        var checker = new InboundChecker(dns, suffixes, new TrustOptions(), TimeProvider.System, "mx.bench");
        var spans = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        async Task<T> Timed<T>(string name, Func<Task<T>> step)
        {
            var w = Stopwatch.StartNew();
            var r = await step();
            spans[name] = spans.GetValueOrDefault(name) + w.Elapsed;
            return r;
        }
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        foreach (var (raw, sender, ipText) in messages)
        {
            var ip = IPAddress.Parse(ipText);
            var helo = "mail." + sender.Split('@')[1];
            if (clamd is not null) await Timed("clamd scan", () => clamd.ScanAsync((size, ct) => Pieces(raw, size), raw.Length));
            var message = await Timed("MIME parse", async () =>
            {
                using var st = new MemoryStream(raw, writable: false);
                return await MimeMessage.LoadAsync(st);
            });
            var mailFrom = await Timed("SPF MAIL FROM", () => spf.CheckMailFromAsync(ip, sender, helo, CancellationToken.None));
            await Timed("SPF HELO", () => spf.CheckHeloAsync(ip, helo, CancellationToken.None));
            var sigs = await Timed("DKIM verify", () => dkim.VerifyAsync(message, CancellationToken.None));
            await Timed("ARC verify", () => arc.VerifyAsync(message, CancellationToken.None));
            await Timed("DMARC", () => dmarc.CheckAsync(InboundChecker.FromDomain(message)!, mailFrom, sigs, 50, CancellationToken.None));
            await Timed("DNSBL (2 zones)", () => lists.CheckIpAsync(ip, ipZones, CancellationToken.None));
            var domains = await Timed("linked domains", () => Task.FromResult(checker.LinkedDomains(message).ToList()));
            await Timed("URIBL (1 zone)", () => lists.CheckDomainsAsync(domains, uriZones, CancellationToken.None));
        }
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var total = spans.Values.Aggregate(TimeSpan.Zero, (a, b) => a + b);
        Console.WriteLine($"profile messages={messages.Length} dns={(dns is MemoryDns ? "memory" : "udp")} one at a time; wall per message {total.TotalMilliseconds / messages.Length:F3} ms, process CPU per message {cpu.TotalMilliseconds / messages.Length:F3} ms");
        foreach (var (name, t) in spans) Console.WriteLine($"  {name,-18} {t.TotalMilliseconds / messages.Length,8:F3} ms  {t / total,6:P1}");
        return 0;
    }

    /// <summary>The zone's records answered in process, without UDP or a resolver cache.</summary>
    private sealed class MemoryDns(TestDnsServer zone) : ITrustDns
    {
        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken ct) =>
            Task.FromResult(zone.Txt.TryGetValue(name, out var t) ? DnsAnswer<string>.Of(t) : DnsAnswer<string>.Missing);

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, bool ipv6, CancellationToken ct) =>
            Task.FromResult(!ipv6 && zone.A.TryGetValue(name, out var a) ? DnsAnswer<IPAddress>.Of([a]) : DnsAnswer<IPAddress>.Missing);

        public Task<DnsAnswer<MxHost>> MxAsync(string name, CancellationToken ct) => Task.FromResult(DnsAnswer<MxHost>.Missing);

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken ct) => Task.FromResult(DnsAnswer<string>.Missing);
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Pieces(byte[] bytes, int size)
    {
        await Task.CompletedTask;
        for (var o = 0; o < bytes.Length; o += size) yield return bytes.AsMemory(o, Math.Min(size, bytes.Length - o));
    }
}
