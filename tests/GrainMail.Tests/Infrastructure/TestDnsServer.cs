using System.Net;
using System.Net.Sockets;
using System.Text;

namespace GrainMail.Tests.Infrastructure;

/// <summary>
/// A small authoritative DNS server on 127.0.0.1 (UDP) for outbound tests: MX and A records
/// from dictionaries; names it does not know are NXDOMAIN. Written to RFC 1035's wire format.
/// </summary>
public sealed class TestDnsServer : IDisposable
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();

    /// <summary>domain → (preference, exchange); an exchange "." is a null MX.</summary>
    public Dictionary<string, List<(ushort Preference, string Exchange)>> Mx { get; } = new(StringComparer.OrdinalIgnoreCase);

    public Dictionary<string, IPAddress> A { get; } = new(StringComparer.OrdinalIgnoreCase);

    public System.Collections.Concurrent.ConcurrentDictionary<string, List<string>> Txt { get; } = new(StringComparer.OrdinalIgnoreCase);

    public int Port => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

    /// <summary>When set, negative answers (NXDOMAIN and no data) carry an SOA in the authority section whose TTL and
    /// MINIMUM are this many seconds, as an authoritative server's must (RFC 2308 3), so resolvers may cache them.
    /// Unset (the tests' default): no SOA, so nothing negative is cached and a record added later is seen at once.</summary>
    public uint? NegativeTtl { get; set; }

    /// <summary>How long each answer is held back before it is sent (zero: at once): lets a test have questions in flight.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Queries received so far.</summary>
    public int Queries => Volatile.Read(ref _queries);

    private int _queries;

    public TestDnsServer()
    {
        _ = Task.Run(ServeAsync);
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult request;
            try
            {
                request = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            Interlocked.Increment(ref _queries);
            try
            {
                var answer = Answer(request.Buffer);
                if (Delay > TimeSpan.Zero) await Task.Delay(Delay, _stop.Token);
                await _udp.SendAsync(answer, request.RemoteEndPoint, _stop.Token);
            }
            catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or SocketException)
            {
                // A query we cannot read is dropped; the client times out.
            }
        }
    }

    private byte[] Answer(byte[] q)
    {
        var pos = 12;
        var labels = new List<string>();
        while (q[pos] != 0)
        {
            var len = q[pos];
            labels.Add(Encoding.ASCII.GetString(q, pos + 1, len));
            pos += len + 1;
        }
        pos++;
        var type = (q[pos] << 8) | q[pos + 1];
        var questionEnd = pos + 4;
        var name = string.Join('.', labels);

        var answers = new List<byte[]>();
        var known = Mx.ContainsKey(name) || A.ContainsKey(name) || Txt.ContainsKey(name);
        if (type == 15 && Mx.TryGetValue(name, out var mx))
        {
            foreach (var (pref, exchange) in mx)
            {
                var data = new List<byte> { (byte)(pref >> 8), (byte)pref };
                data.AddRange(EncodeName(exchange));
                answers.Add(Record(15, [.. data]));
            }
        }
        if (type == 1 && A.TryGetValue(name, out var ip)) answers.Add(Record(1, ip.GetAddressBytes()));
        if (type == 16 && Txt.TryGetValue(name, out var texts))
        {
            foreach (var text in texts)
            {
                // A TXT record is character-strings of at most 255 octets each.
                var data = new List<byte>();
                var bytes = Encoding.ASCII.GetBytes(text);
                for (var i = 0; i < bytes.Length; i += 255)
                {
                    var n = Math.Min(255, bytes.Length - i);
                    data.Add((byte)n);
                    data.AddRange(bytes.AsSpan(i, n).ToArray());
                }
                answers.Add(Record(16, [.. data]));
            }
        }

        var authority = new List<byte[]>();
        if (answers.Count == 0 && NegativeTtl is { } negative)
        {
            // The SOA of the name's last two labels: MNAME, RNAME, serial, refresh, retry, expire, minimum.
            var zone = string.Join('.', labels.TakeLast(2));
            var soa = new List<byte>();
            soa.AddRange(EncodeName("ns." + zone));
            soa.AddRange(EncodeName("hostmaster." + zone));
            foreach (var v in new uint[] { 1, 3600, 600, 86400, negative }) soa.AddRange([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
            var owner = EncodeName(zone);
            var r = new List<byte>(owner) { 0, 6, 0, 1, (byte)(negative >> 24), (byte)(negative >> 16), (byte)(negative >> 8), (byte)negative, (byte)(soa.Count >> 8), (byte)soa.Count };
            r.AddRange(soa);
            authority.Add([.. r]);
        }

        var response = new List<byte>();
        response.AddRange(q[..2]);
        // QR, RD copied, RA; RCODE 3 (NXDOMAIN) for unknown names.
        response.Add((byte)(0x84 | (q[2] & 0x01)));
        response.Add((byte)(0x80 | (known ? 0 : 3)));
        response.AddRange([0, 1, (byte)(answers.Count >> 8), (byte)answers.Count, 0, (byte)authority.Count, 0, 0]);
        response.AddRange(q[12..questionEnd]);
        foreach (var a in answers) response.AddRange(a);
        foreach (var a in authority) response.AddRange(a);
        return [.. response];
    }

    private static byte[] Record(int type, byte[] data)
    {
        // TTL 1 s: tests change records and must not wait for caches.
        var r = new List<byte> { 0xC0, 0x0C, (byte)(type >> 8), (byte)type, 0, 1, 0, 0, 0, 1, (byte)(data.Length >> 8), (byte)data.Length };
        r.AddRange(data);
        return [.. r];
    }

    private static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}
