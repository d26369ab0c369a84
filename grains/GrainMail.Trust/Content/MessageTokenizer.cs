using GrainMail.Text;
using System.Buffers;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;

namespace GrainMail.Trust.Content;

/// <summary>
/// The tokens a message is judged by: a set (each token counts once per message, as the classifier's
/// counts are "messages that contained it"). Every text part is read after MIME and charset decoding
/// (MimeKit; GB2312, GBK, GB18030, Big5, ISO-2022-JP and the other legacy code pages through .NET's
/// code-page provider), HTML parts as their text plus the hosts of their links and images, a few header
/// fields with a prefix of their own, attachments by type and file extension, and CJK text as overlapping
/// character bigrams (no dictionary segmenter: bigrams need none and work for Chinese, Japanese and Korean).
/// Besides single words: word pairs ("bi:"), the values of a few header fields ("hv:"), the subject's shape
/// ("sf:"), the MIME tree ("mime:"), each text part's coarse shape ("bf:") and how the message was made and carried ("st:",
/// <see cref="Structure"/>: the handing-over hop, Date against it, Message-ID, From name; and where its links lead against
/// who it says it is from, <see cref="LinkTokens"/>), chosen by validation on the
/// training corpus (docs/benchmarks.md). A token is stored only as its hash, so a token's text must never change
/// meaning: new families get new prefixes, and the tokens of models learned before them keep their counts.
/// </summary>
public static partial class MessageTokenizer
{
    /// <summary>Words longer than this become one "skip" token by first letter and length (base64 blobs, hashes).</summary>
    public const int MaxWordLength = 24;

    /// <summary>Only the first part of a huge body is read: what follows rarely changes the verdict.</summary>
    public const int MaxTextChars = 200_000;

    static MessageTokenizer() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static HashSet<string> Tokenize(MimeMessage message) => Tokenize(message, null);

    /// <summary>The same, reading the text parts from <paramref name="decoded"/> (<see cref="DecodedTexts.Of"/> of this message)
    /// instead of decoding them again: the tokens are the same.</summary>
    public static HashSet<string> Tokenize(MimeMessage message, DecodedTexts? decoded)
    {
        var tokens = new HashSet<string>(StringComparer.Ordinal);
        Tokenize(message, decoded, new StringSink(tokens));
        return tokens;
    }

    /// <summary>The hashes (<see cref="ContentClassifier.Hash(string)"/>) of <see cref="Tokenize(MimeMessage, DecodedTexts?)"/>'s
    /// tokens, distinct and sorted, hashed from the characters each token is composed of: no token string is made (session 15).</summary>
    internal static long[] HashedTokens(MimeMessage message, DecodedTexts? decoded)
    {
        var sink = HashSink.Rent();
        try
        {
            Tokenize(message, decoded, sink);
            var hashes = new long[sink.Hashes.Count];
            sink.Hashes.CopyTo(hashes);
            Sort(hashes);
            return hashes;
        }
        finally
        {
            HashSink.Return(sink);
        }
    }

    /// <summary>Sorts the hashes ascending (as signed numbers, as <see cref="Array.Sort(Array)"/> does): from 64 on by an LSD radix
    /// sort, eight passes of a byte, the sign bit flipped in the last; a comparison sort of a message's few hundred random
    /// hashes mispredicts a branch on about every other comparison (an eighth of the tokenizer's time on the corpus, session 15).</summary>
    private static void Sort(long[] keys)
    {
        if (keys.Length < 64)
        {
            Array.Sort(keys);
            return;
        }
        var rented = ArrayPool<long>.Shared.Rent(keys.Length);
        Span<long> from = keys, to = rented.AsSpan(0, keys.Length);
        Span<int> starts = stackalloc int[256];
        for (var shift = 0; shift < 64; shift += 8)
        {
            var flip = shift == 56 ? 0x80 : 0;
            starts.Clear();
            foreach (var k in from) starts[(int)((ulong)k >> shift & 0xFF) ^ flip]++;
            var sum = 0;
            for (var d = 0; d < 256; d++)
            {
                var count = starts[d];
                starts[d] = sum;
                sum += count;
            }
            foreach (var k in from) to[starts[(int)((ulong)k >> shift & 0xFF) ^ flip]++] = k;
            var swap = from;
            from = to;
            to = swap;
        }
        // Eight passes: the sorted keys are back in keys.
        ArrayPool<long>.Shared.Return(rented);
    }

    private static void Tokenize(MimeMessage message, DecodedTexts? decoded, TokenSink tokens)
    {
        if (decoded is not null && !ReferenceEquals(decoded.Message, message)) throw new ArgumentException("The texts are of another message", nameof(decoded));
        Headers(message, tokens);
        HeaderNames(message, tokens);
        Received(message, tokens);
        HeaderValues(message, tokens);
        SubjectShape(message.Subject, tokens);
        var hop = StructureAndHop(message, tokens);
        MimeStructure(message.Body, "", 0, tokens);
        var links = new LinkFacts();
        var textIndex = 0;
        foreach (var part in message.BodyParts)
        {
            if (part is MimePart leaf)
            {
                tokens.AddLower("part:", leaf.ContentType.MimeType);
                if (leaf.ContentTransferEncoding is not ContentEncoding.Default) tokens.Add("cte:" + leaf.ContentTransferEncoding.ToString().ToLowerInvariant());
            }
            if (part is TextPart text)
            {
                if (!string.IsNullOrEmpty(text.ContentType.Charset)) tokens.AddLower("charset:", text.ContentType.Charset);
                var body = ReadText(text, decoded, textIndex++, tokens);
                if (body is null) continue;
                if (body.Length > MaxTextChars) body = body[..MaxTextChars];
                if (text.IsHtml)
                {
                    BodyShape(body, true, Link().Count(body), tokens);
                    Html(body, tokens, links);
                }
                else
                {
                    // The text's links are found once, for its tokens and for its shape's link count.
                    var found = Text(body, "", tokens, links);
                    BodyShape(body, false, found, tokens);
                }
            }
            else if (part is MimePart attachment)
            {
                tokens.AddLower("attach:", attachment.ContentType.MimeType);
                var ext = Path.GetExtension(attachment.FileName ?? "");
                if (ext.Length is > 1 and <= 8) tokens.AddLower("attach-ext:", ext);
            }
        }
        LinkTokens(message, hop, links, tokens);
    }

    /// <summary>The decoded text of a part; an unknown charset or broken encoding is a token, not a failure.</summary>
    private static string? ReadText(TextPart part, DecodedTexts? decoded, int index, TokenSink tokens)
    {
        var body = decoded is null ? DecodedTexts.TryDecode(part) : decoded.Part(index);
        if (body is null) tokens.Add("undecodable:" + (part.ContentType.Charset ?? "?").ToLowerInvariant());
        return body;
    }

    private static void Headers(MimeMessage message, TokenSink tokens)
    {
        // Subject words are their own tokens: the same word means more in a subject than in a body.
        if (message.Subject is { Length: > 0 } subject) Text(subject, "s:", tokens);
        Addresses("from", message.From, tokens);
        Addresses("reply-to", message.ReplyTo, tokens);
        Addresses("to", message.To, tokens);
        tokens.Add("to-count:", Bucket(message.To.Count));
        if (message.Headers[HeaderId.XMailer] is { Length: > 0 } mailer) Text(mailer, "agent:", tokens);
        if (message.Headers[HeaderId.UserAgent] is { Length: > 0 } agent) Text(agent, "agent:", tokens);
        if (message.Headers[HeaderId.MessageId] is { } id)
        {
            var at = id.LastIndexOf('@');
            if (at > 0) tokens.AddLower("message-id:", id.AsSpan(at + 1).TrimEnd('>'));
            else tokens.Add("message-id:odd");
        }
        else tokens.Add("message-id:none");
        tokens.AddLower("content-type:", message.Body?.ContentType.MimeType);
        if (message.Date == DateTimeOffset.MinValue) tokens.Add("date:none");
    }

    /// <summary>The first five addresses of an address field: "FIELD:address", "FIELD-domain:domain", and the From name's words.</summary>
    private static void Addresses(string field, InternetAddressList list, TokenSink tokens)
    {
        var taken = 0;
        foreach (var mailbox in list.Mailboxes)
        {
            if (taken++ == 5) break;
            var address = mailbox.Address.ToLowerInvariant();
            tokens.Add(field, ":", address);
            var at = address.LastIndexOf('@');
            if (at > 0) tokens.Add(field, "-domain:", address.AsSpan(at + 1));
            if (field == "from" && !string.IsNullOrWhiteSpace(mailbox.Name)) Text(mailbox.Name, "from-name:", tokens);
        }
    }

    /// <summary>Which header fields a message carries (SpamBayes' header mining): bulk mailers and spamware
    /// add and leave out fields in ways of their own. Each name once; trace fields added on the way are named too.</summary>
    private static void HeaderNames(MimeMessage message, TokenSink tokens)
    {
        var headers = message.Headers;
        for (var i = 0; i < headers.Count && i < 100; i++) tokens.AddLower("hdr:", headers[i].Field);
    }

    /// <summary>The relays a message came through: the domain (last two labels) of each "from" host and the
    /// /16 and /24 of each bracketed IPv4 address in the Received fields (RFC 5321 4.4), so that a sending
    /// network or a relay seen with spam before counts as evidence.</summary>
    private static void Received(MimeMessage message, TokenSink tokens)
    {
        foreach (var h in message.Headers.Where(h => h.Id == HeaderId.Received).Take(10))
        {
            foreach (Match m in ReceivedFrom().Matches(h.Value))
            {
                var labels = m.Groups[1].Value.TrimEnd('.').ToLowerInvariant().Split('.');
                if (labels.Length >= 2 && !IPAddress.TryParse(m.Groups[1].Value, out _)) tokens.Add("rcvd:" + string.Join('.', labels[^2..]));
            }
            foreach (Match m in BracketedIp().Matches(h.Value))
            {
                var o = m.Groups[1].Value.Split('.');
                if (o[0] is "127" or "10") continue;
                tokens.Add("rcvd-ip:" + o[0] + "." + o[1]);
                tokens.Add("rcvd-ip:" + o[0] + "." + o[1] + "." + o[2]);
            }
        }
    }

    /// <summary>Header fields whose values bulk mailers fill in their own ways (priority flags, the Outlook
    /// MIME engine, the time zone of Date, the sender's organisation): "hv:&lt;field&gt;:&lt;word&gt;".</summary>
    private static void HeaderValues(MimeMessage message, TokenSink tokens)
    {
        for (var f = 0; f < ValueFields.Length; f++)
        {
            if (message.Headers[ValueFields[f]] is not { Length: > 0 } value) continue;
            // The first eight words (split at the separators, empty pieces left out), each at most MaxWordLength long.
            FirstPieces(value, ValueSeparators, 1, MaxWordLength, ValueFieldPrefixes[f], tokens);
        }
        // The Date field's zone (RFC 5322 3.3): senders write it from their own clock and software.
        if (message.Headers[HeaderId.Date] is { } date)
        {
            foreach (var zone in DateZone().EnumerateMatches(date))
            {
                tokens.AddLower("hv:date-zone:", date.AsSpan(zone.Index, zone.Length));
                break;
            }
        }
        if (message.Cc.Count > 0) tokens.Add("hv:cc-count:", Bucket(message.Cc.Count));
        if (message.From.Mailboxes.FirstOrDefault() is { } from)
        {
            if (string.IsNullOrWhiteSpace(from.Name)) tokens.Add("hv:from:no-name");
            var local = from.LocalPart;
            if (local.Any(char.IsDigit)) tokens.Add("hv:from:local-digits");
            if (message.ReplyTo.Mailboxes.FirstOrDefault() is { } reply && !string.Equals(reply.Domain, from.Domain, StringComparison.OrdinalIgnoreCase)) tokens.Add("hv:reply-to:other-domain");
            if (message.To.Mailboxes.Any(t => string.Equals(t.Address, from.Address, StringComparison.OrdinalIgnoreCase))) tokens.Add("hv:to:is-from");
        }
        if (message.To.Count == 0) tokens.Add("hv:to:none");
    }

    /// <summary>
    /// How the message was made and carried, as a fixed vocabulary of "st:" tokens (<see cref="StructureTokens"/>), judged
    /// on the hop where it was handed to the receiving side: the first Received field (RFC 5321 4.4) from a public IPv4
    /// address that is not a POP/IMAP retrieval. Whether the client's HELO was an address literal or a single label, whether
    /// the relay recorded a reverse-DNS name and whether that name looks like a dynamic pool (dsl, dial-up, an address
    /// spelled out), whether HELO and that name agree; how far the Date field is from the time that hop recorded (spamware
    /// writes dates hours or days off, or in the future); whether the Message-ID's domain is the From domain's or a
    /// relay's; a From display name that is an address or shouts. A legitimate sender, newsletters included, passes these
    /// the same way the training ham does; 2002's bulk senders did not. Path length and list relays are left out on purpose:
    /// they tell list mail from direct mail, which is not spam from ham. Costs a regex over at most 12 Received fields.
    /// </summary>
    public static void Structure(MimeMessage message, HashSet<string> tokens) => StructureAndHop(message, new StringSink(tokens));

    /// <summary><see cref="Structure"/>, returning the handing-over hop's HELO name and reverse-DNS name (either may be null)
    /// for the link tokens.</summary>
    private static (string? Helo, string? Rdns) StructureAndHop(MimeMessage message, TokenSink tokens)
    {
        string? helo = null, rdns = null;
        string? hopText = null;
        var relays = new List<string>(4);
        foreach (var h in message.Headers)
        {
            if (h.Id != HeaderId.Received) continue;
            if (relays.Count >= 12) break;
            var value = h.Value;
            if (ContainsIgnoreCase(value, "with POP3") || ContainsIgnoreCase(value, "with IMAP")) continue;
            var m = ReceivedClause().Match(value);
            if (!m.Success) continue;
            var paren = m.Groups[2].Value;
            var ip = BareIp().Match(paren);
            if (!ip.Success) ip = BareIp().Match(m.Value);
            if (!ip.Success || PrivateIp().IsMatch(ip.Value)) continue;
            relays.Add(m.Groups[1].Value);
            if (hopText is not null) continue;
            hopText = value;
            helo = m.Groups[1].Value.Trim('[', ']');
            // The relay's record of the client: "name [ip]", "user@name [ip]", "[ip]" or "unknown [ip]".
            var named = paren.Split('[', 2)[0].Trim();
            var at = named.IndexOf('@');
            if (at >= 0) named = named[(at + 1)..];
            named = named.Split(' ', 2)[0];
            rdns = named.Length == 0 || named.Equals("unknown", StringComparison.OrdinalIgnoreCase) || BareIp().IsMatch(named) ? null : named.TrimEnd('.').ToLowerInvariant();
            if (rdns is not null) relays.Add(rdns);
        }
        if (hopText is null || helo is null) tokens.Add("st:hop:none");
        else
        {
            var heloKind = BareIp().IsMatch(helo) ? "ip" : helo.Contains('.') ? "fqdn" : "nodot";
            tokens.Add("st:helo:" + heloKind);
            if (rdns is null) tokens.Add("st:rdns:none");
            else
            {
                var org = Organisation(rdns);
                var host = rdns.Length > org.Length ? rdns[..^org.Length] : "";
                tokens.Add(DynamicName().IsMatch(host) ? "st:rdns:dynamic" : "st:rdns:named");
                if (heloKind == "fqdn")
                {
                    var h = helo.TrimEnd('.').ToLowerInvariant();
                    tokens.Add(h == rdns ? "st:helo-rdns:same" : Organisation(h) == org ? "st:helo-rdns:same-org" : "st:helo-rdns:other");
                }
            }
            if (ContainsIgnoreCase(hopText, "may be forged")) tokens.Add("st:hop:forged");
            // The Date field against the time the hop recorded (after the last ';', RFC 5321 4.4).
            var semi = hopText.LastIndexOf(';');
            if (message.Date != DateTimeOffset.MinValue && semi >= 0 && MimeKit.Utils.DateUtils.TryParse(hopText[(semi + 1)..].Trim(), out DateTimeOffset stamped))
            {
                var skew = (stamped - message.Date).TotalMinutes;
                tokens.Add("st:date-skew:" + skew switch
                {
                    < -60 => "future-hours",
                    < -5 => "future",
                    < 5 => "minutes",
                    < 60 => "hour",
                    < 24 * 60 => "day",
                    _ => "days",
                });
            }
        }
        var fromMailbox = message.From.Mailboxes.FirstOrDefault();
        if (message.Headers[HeaderId.MessageId] is not { } id) tokens.Add("st:mid:none");
        else
        {
            var at = id.LastIndexOf('@');
            var domain = at > 0 ? id[(at + 1)..].Trim().TrimEnd('>').TrimEnd('.').ToLowerInvariant() : null;
            tokens.Add("st:mid:" + (domain is null ? "no-at"
                : fromMailbox?.Domain is { Length: > 0 } fd && Organisation(domain) == Organisation(fd.ToLowerInvariant()) ? "from-domain"
                : relays.Exists(r => Organisation(r.ToLowerInvariant()) == Organisation(domain)) ? "relay-domain"
                : !domain.Contains('.') ? "no-dot" : "other"));
        }
        if (fromMailbox?.Name is { Length: > 0 } name)
        {
            if (name.Contains('@')) tokens.Add("st:from-name:address");
            var letters = 0;
            var upper = 0;
            foreach (var c in name)
            {
                if (!char.IsLetter(c)) continue;
                letters++;
                if (char.IsUpper(c)) upper++;
            }
            if (letters >= 4 && upper == letters) tokens.Add("st:from-name:caps");
        }
        return (helo, rdns);
    }

    /// <summary>The link tokens ("st:link:"), a closed vocabulary (<see cref="LinkTokens"/>).</summary>
    private static readonly string[] LinkVocabulary =
    [
        "st:link:aligned:all", "st:link:aligned:some", "st:link:aligned:none",
        "st:link:deceptive", "st:link:numeric-host", "st:link:encoded-host", "st:link:userinfo", "st:link:redirect",
    ];

    /// <summary>Every token <see cref="Structure"/> can emit: a closed vocabulary, so that the classifier can weigh the
    /// family apart (<see cref="ContentClassifier.StructureWeight"/>).</summary>
    public static readonly IReadOnlyList<string> StructureTokens =
    [
        "st:hop:none", "st:hop:forged", "st:helo:ip", "st:helo:fqdn", "st:helo:nodot", "st:rdns:none", "st:rdns:dynamic", "st:rdns:named",
        "st:helo-rdns:same", "st:helo-rdns:same-org", "st:helo-rdns:other",
        "st:date-skew:future-hours", "st:date-skew:future", "st:date-skew:minutes", "st:date-skew:hour", "st:date-skew:day", "st:date-skew:days",
        "st:mid:none", "st:mid:no-at", "st:mid:from-domain", "st:mid:relay-domain", "st:mid:no-dot", "st:mid:other",
        "st:from-name:address", "st:from-name:caps",
        .. LinkVocabulary,
    ];

    /// <summary>The last two labels of a host name (no public suffix list here: a coarse "same organisation").</summary>
    private static string Organisation(string host)
    {
        var dot = host.LastIndexOf('.');
        if (dot <= 0) return host;
        var second = host.LastIndexOf('.', dot - 1);
        return second < 0 ? host : host[(second + 1)..];
    }

    /// <summary>
    /// Where the body's web links lead (href targets and URLs written in the text), against who the message says it is from:
    /// the organisational domains (<see cref="LinkOrganisation"/>) of the links against those of From, the Message-ID and the
    /// handing-over relay (its reverse-DNS name and HELO). A sender's own mail links to its own site or its mailing service;
    /// bulk mail sent through whatever relay links elsewhere. Also: an anchor whose text shows an address of another
    /// organisation than its target, numeric hosts, %-encoded hosts, userinfo ("@") before the host, and redirector URLs
    /// (another URL inside the query), which hide where a link goes. How many links and how many organisations, and the HTML
    /// craft of the body (HTML alone, text and HTML alternatives that differ, tiny or white text, comments inside words,
    /// images with little text, base64 text parts), were measured too and are not tokens: docs/benchmarks.md, session 11.
    /// Costs one pass over each link already found and, per HTML part, one regular expression for the anchors.
    /// </summary>
    private static void LinkTokens(MimeMessage message, (string? Helo, string? Rdns) hop, LinkFacts links, TokenSink tokens)
    {
        if (links.Count == 0) return;
        var own = new HashSet<string>(StringComparer.Ordinal);
        if (message.From.Mailboxes.FirstOrDefault()?.Domain is { Length: > 0 } from) own.Add(LinkOrganisation(from.ToLowerInvariant()));
        var id = message.Headers[HeaderId.MessageId];
        var at = id?.LastIndexOf('@') ?? -1;
        if (id is not null && at > 0) own.Add(LinkOrganisation(id[(at + 1)..].Trim().TrimEnd('>').TrimEnd('.').ToLowerInvariant()));
        if (hop.Rdns is { } rdns) own.Add(LinkOrganisation(rdns));
        if (hop.Helo is { } helo && !BareIp().IsMatch(helo)) own.Add(LinkOrganisation(helo.TrimEnd('.').ToLowerInvariant()));
        if (links.Organisations.Count > 0)
        {
            var aligned = links.Organisations.Count(own.Contains);
            tokens.Add("st:link:aligned:" + (aligned == links.Organisations.Count ? "all" : aligned > 0 ? "some" : "none"));
        }
        if (links.Deceptive) tokens.Add("st:link:deceptive");
        if (links.NumericHost) tokens.Add("st:link:numeric-host");
        if (links.EncodedHost) tokens.Add("st:link:encoded-host");
        if (links.UserInfo) tokens.Add("st:link:userinfo");
        if (links.Redirect) tokens.Add("st:link:redirect");
    }

    /// <summary>The organisational domain of a link's host: the last two labels, or three under a two-letter country code
    /// whose second level is a generic one (co.uk, com.au, ne.jp).</summary>
    internal static string LinkOrganisation(string host)
    {
        var labels = host.Split('.', StringSplitOptions.RemoveEmptyEntries);
        if (labels.Length <= 2) return string.Join('.', labels);
        var take = labels[^1].Length == 2 && labels[^2] is "co" or "com" or "net" or "org" or "ac" or "gov" or "edu" or "ne" or "or" or "go" ? 3 : 2;
        return string.Join('.', labels[^take..]);
    }

    /// <summary>What the body's web links say, gathered while the tokenizer reads the parts.</summary>
    private sealed class LinkFacts
    {
        public readonly HashSet<string> Organisations = new(StringComparer.Ordinal);
        public int Count;
        public bool Deceptive, NumericHost, EncodedHost, UserInfo, Redirect;

        /// <summary>The host of a web link (http, https, ftp or a bare www.), or null for anything else (mailto:, relative).</summary>
        public string? Add(string url)
        {
            if (Count >= 500) return null;
            var rest = url.AsSpan().Trim();
            var scheme = rest.IndexOf("://", StringComparison.Ordinal);
            if (scheme >= 0)
            {
                var name = rest[..scheme];
                if (!name.Equals("http", StringComparison.OrdinalIgnoreCase) && !name.Equals("https", StringComparison.OrdinalIgnoreCase)
                    && !name.Equals("ftp", StringComparison.OrdinalIgnoreCase)) return null;
                rest = rest[(scheme + 3)..];
            }
            else if (!rest.StartsWith("www.", StringComparison.OrdinalIgnoreCase)) return null;
            var end = rest.IndexOfAny('/', '?', '#');
            var authority = end < 0 ? rest : rest[..end];
            ReadOnlySpan<char> path = end < 0 ? default : rest[end..];
            var at = authority.LastIndexOf('@');
            if (at >= 0)
            {
                UserInfo = true;
                authority = authority[(at + 1)..];
            }
            var colon = authority.LastIndexOf(':');
            if (colon >= 0 && authority.IndexOf(']') < colon) authority = authority[..colon];
            var host = authority.ToString();
            if (host.Contains('%'))
            {
                EncodedHost = true;
                host = Uri.UnescapeDataString(host);
            }
            host = host.Trim('[', ']', '.').ToLowerInvariant();
            if (host.Length == 0) return null;
            Count++;
            if (path.Contains("://", StringComparison.Ordinal) || ContainsIgnoreCase(path, "%3a%2f%2f")
                || ContainsIgnoreCase(path, "=http") || ContainsIgnoreCase(path, "=www.")) Redirect = true;
            // Dotted quads, and hosts written as one number (decimal or hex), which browsers also read as an address.
            if (IPAddress.TryParse(host, out _) || host.All(char.IsAsciiDigit) || (host.StartsWith("0x", StringComparison.Ordinal) && host.Length > 2))
            {
                NumericHost = true;
                return host;
            }
            Organisations.Add(LinkOrganisation(host));
            return host;
        }

        /// <summary>An anchor: its target and its visible text.</summary>
        public void Anchor(string href, string text)
        {
            if (ShownAddress().Match(text) is not { Success: true } shown) return;
            var target = Peek(href);
            var claimed = Peek(shown.Value.Contains("://", StringComparison.Ordinal) || shown.Value.StartsWith("www.", StringComparison.OrdinalIgnoreCase) ? shown.Value : "http://" + shown.Value);
            if (target is not null && claimed is not null && LinkOrganisation(target) != LinkOrganisation(claimed)) Deceptive = true;
        }

        /// <summary>A URL's host without counting it as a link.</summary>
        private static string? Peek(string url)
        {
            var probe = new LinkFacts();
            return probe.Add(url);
        }
    }

    private static readonly string[] ValueFields = ["X-Priority", "X-MSMail-Priority", "Importance", "Precedence", "MIME-Version", "X-MimeOLE", "Organization", "Content-Class", "X-Mailer-Version"];

    /// <summary>"hv:&lt;field&gt;:" for each of <see cref="ValueFields"/>.</summary>
    private static readonly string[] ValueFieldPrefixes = [.. ValueFields.Select(f => "hv:" + f.ToLowerInvariant() + ":")];

    private static readonly SearchValues<char> ValueSeparators = SearchValues.Create(" \t();,\"<>/=");

    /// <summary>How a subject looks, beyond its words: a reply or forward prefix (two letters, too short to be a
    /// word token), shouting, money, exclamation marks, and the run of spaces and digits some bulk mailers append.</summary>
    private static void SubjectShape(string? subject, TokenSink tokens)
    {
        if (string.IsNullOrWhiteSpace(subject))
        {
            tokens.Add("sf:empty");
            return;
        }
        var s = subject.TrimStart();
        if (s.StartsWith("re:", StringComparison.OrdinalIgnoreCase)) tokens.Add("sf:re");
        if (s.StartsWith("fw:", StringComparison.OrdinalIgnoreCase) || s.StartsWith("fwd:", StringComparison.OrdinalIgnoreCase)) tokens.Add("sf:fwd");
        if (s.StartsWith('[')) tokens.Add("sf:tag");
        var letters = s.Count(char.IsLetter);
        if (letters >= 6 && s.Where(char.IsLetter).All(char.IsUpper)) tokens.Add("sf:all-caps");
        if (s.Contains('!')) tokens.Add("sf:exclaim");
        if (s.Contains('$')) tokens.Add("sf:dollar");
        if (TrailingId().IsMatch(subject)) tokens.Add("sf:trailing-id");
        tokens.Add("sf:length:", Bucket(s.Length / 10));
    }

    /// <summary>The MIME tree as paths of types (RFC 2046): "mime:multipart/alternative>text/html"; bulk mail
    /// and ordinary mail clients build different trees.</summary>
    private static void MimeStructure(MimeEntity? entity, string path, int depth, TokenSink tokens)
    {
        if (entity is null || depth > 5) return;
        var here = path.Length == 0 ? entity.ContentType.MimeType.ToLowerInvariant() : path + ">" + entity.ContentType.MimeType.ToLowerInvariant();
        tokens.Add("mime:", here);
        if (entity is Multipart multipart)
        {
            tokens.Add("mime:parts:", Bucket(multipart.Count));
            foreach (var child in multipart.Take(10)) MimeStructure(child, here, depth + 1, tokens);
        }
    }

    /// <summary>Coarse shape of a text part: its length, how much of it shouts, how many links, and for HTML
    /// whether it hides text or pulls images and forms (not the tag names themselves: see <see cref="Html"/>).</summary>
    private static void BodyShape(string body, bool html, int links, TokenSink tokens)
    {
        var kind = html ? "bf:html:" : "bf:text:";
        tokens.Add(kind, "length:", Bucket(body.Length / 500));
        var (letters, upper) = CountLetters(body.AsSpan(0, Math.Min(body.Length, 20_000)));
        if (letters > 50)
        {
            // 0 to 10: one or two digits.
            Span<char> tenths = stackalloc char[2];
            (upper * 10 / letters).TryFormat(tenths, out var n, default, CultureInfo.InvariantCulture);
            tokens.Add(kind, "caps:", tenths[..n]);
        }
        tokens.Add(kind, "links:", Bucket(links));
        if (!html) return;
        if (ContainsIgnoreCase(body, "<img")) tokens.Add("bf:html:img");
        if (ContainsIgnoreCase(body, "<form")) tokens.Add("bf:html:form");
        if (ContainsIgnoreCase(body, "<script")) tokens.Add("bf:html:script");
        if (ContainsIgnoreCase(body, "display:none") || ContainsIgnoreCase(body, "visibility:hidden")) tokens.Add("bf:html:hidden");
        if (NumericEntity().Count(body) > 20) tokens.Add("bf:html:entities");
    }

    /// <summary>
    /// <paramref name="text"/>.Contains(<paramref name="needle"/>, OrdinalIgnoreCase), found faster. Under InvariantGlobalization
    /// that call compares character by character (InvariantModeCasing.IndexOfIgnoreCase: a third of the tokenizer's time on
    /// the corpus, session 15, over every HTML body five times). A match starts with the needle's first character in either
    /// case, and for the ones used here ('&lt;', '%', '=', and the letters d, m, v, w) no other character is equal to it
    /// ignoring case (unlike i, s and k, which dotless ı, long ſ and the Kelvin sign case-map to or from): a vectorized
    /// search for those one or two finds every candidate, and the same comparison as before confirms it.
    /// </summary>
    private static bool ContainsIgnoreCase(ReadOnlySpan<char> text, string needle)
    {
        var first = needle[0];
        if (first is 'i' or 'I' or 's' or 'S' or 'k' or 'K' || !char.IsAscii(first)) return text.Contains(needle, StringComparison.OrdinalIgnoreCase);
        var lower = char.ToLowerInvariant(first);
        var upper = char.ToUpperInvariant(first);
        while (true)
        {
            var at = lower == upper ? text.IndexOf(lower) : text.IndexOfAny(lower, upper);
            if (at < 0) return false;
            if (text[at..].StartsWith(needle, StringComparison.OrdinalIgnoreCase)) return true;
            text = text[(at + 1)..];
        }
    }

    private static string Bucket(int n) => n switch { 0 => "0", 1 => "1", < 5 => "few", < 20 => "some", _ => "many" };

    /// <summary>How many of the characters are letters (<see cref="char.IsLetter(char)"/>) and how many of those upper case
    /// (<see cref="char.IsUpper(char)"/>). Runs of ASCII are counted eight characters at a time (for them a letter is A–Z or
    /// a–z, upper case A–Z), the rest one by one.</summary>
    private static (int Letters, int Upper) CountLetters(ReadOnlySpan<char> text)
    {
        int letters = 0, upper = 0, i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var units = MemoryMarshal.Cast<char, ushort>(text);
            var ascii = Vector128.Create((ushort)0x80);
            var a = Vector128.Create((ushort)'A');
            var lowerA = Vector128.Create((ushort)'a');
            var span = Vector128.Create((ushort)25);
            for (; i + Vector128<ushort>.Count <= units.Length; i += Vector128<ushort>.Count)
            {
                var v = Vector128.Create(units.Slice(i, Vector128<ushort>.Count));
                if (Vector128.GreaterThanOrEqualAny(v, ascii))
                {
                    for (var k = i; k < i + Vector128<ushort>.Count; k++) CountLetter(text[k], ref letters, ref upper);
                    continue;
                }
                // Unsigned: v - 'A' <= 25 exactly for 'A'..'Z' (below 'A' wraps around to a large number).
                var up = Vector128.LessThanOrEqual(v - a, span);
                var low = Vector128.LessThanOrEqual(v - lowerA, span);
                upper += BitOperations.PopCount(up.ExtractMostSignificantBits());
                letters += BitOperations.PopCount((up | low).ExtractMostSignificantBits());
            }
        }
        for (; i < text.Length; i++) CountLetter(text[i], ref letters, ref upper);
        return (letters, upper);
    }

    private static void CountLetter(char c, ref int letters, ref int upper)
    {
        if (!char.IsLetter(c)) return;
        letters++;
        if (char.IsUpper(c)) upper++;
    }

    /// <summary>HTML: the link, image and form targets become url tokens; the text between
    /// the tags (scripts and styles left out, entities decoded) is tokenized as plain text.</summary>
    private static void Html(string html, TokenSink tokens, LinkFacts links)
    {
        // Tag names are not tokens: a training set whose ham is mostly plain text (mailing lists) learns from
        // them that HTML itself is spam, and then files every HTML newsletter as Junk (SpamBayes found the same).
        foreach (Match m in Attribute().Matches(html))
        {
            var target = WebUtility.HtmlDecode(m.Groups[2].Value);
            Url(target, tokens);
            if (m.Groups[1].Value.Equals("href", StringComparison.OrdinalIgnoreCase)) links.Add(target);
        }
        // An anchor whose text shows an address of another organisation than the one it leads to.
        var anchors = 0;
        foreach (Match m in Anchor().Matches(html))
        {
            if (++anchors > 100) break;
            links.Anchor(WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(Tag().Replace(m.Groups[2].Value, "")));
        }
        var text = WebUtility.HtmlDecode(Tag().Replace(ScriptOrStyle().Replace(html, " "), " "));
        Text(text, "", tokens, links);
    }

    /// <summary>Plain text: URLs and addresses first (as url/email tokens), then words and CJK bigrams.</summary>
    public static void Text(string text, string prefix, HashSet<string> tokens) => Text(text, prefix, new StringSink(tokens), null);

    private static void Text(string text, string prefix, TokenSink tokens) => Text(text, prefix, tokens, null);

    /// <summary>The hashes of <see cref="Text(string, string, HashSet{string})"/>'s tokens as the hashing sink computes them, distinct
    /// and sorted: for the tests that hold them to the strings' hashes on any text, unpaired surrogates included (decoded mail
    /// never has those: decoders write U+FFFD).</summary>
    public static long[] HashedText(string text, string prefix)
    {
        var sink = new HashSink();
        Text(text, prefix, sink, null);
        var hashes = sink.Hashes.ToArray();
        Array.Sort(hashes);
        return hashes;
    }

    /// <summary>Returns how many links (<see cref="Link"/>) the text holds when read without a prefix (else 0).</summary>
    private static int Text(string text, string prefix, TokenSink tokens, LinkFacts? links)
    {
        var found = 0;
        if (prefix.Length == 0)
        {
            foreach (var m in Link().EnumerateMatches(text))
            {
                found++;
                var url = text.Substring(m.Index, m.Length);
                Url(url, tokens);
                links?.Add(url);
            }
            // The domain is what follows the match's one '@' (the local part's characters exclude it).
            foreach (var m in Email().EnumerateMatches(text))
            {
                var address = text.AsSpan(m.Index, m.Length);
                tokens.AddLower("email:", address[(address.IndexOf('@') + 1)..]);
            }
        }
        // Words are built, trimmed and lower-cased in buffers (pooled), and each token is handed to the sink as characters:
        // the string sink makes a string only of a token it does not have yet (session 12), the hashing sink none (session 15).
        var current = ArrayPool<char>.Shared.Rent(MaxWordLength);
        var previous = ArrayPool<char>.Shared.Rent(MaxWordLength);
        var pair = ArrayPool<char>.Shared.Rent(3 + prefix.Length + 2 * MaxWordLength + 1);
        try
        {
            Words(text, prefix, tokens, current, previous, pair);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(current);
            ArrayPool<char>.Shared.Return(previous);
            ArrayPool<char>.Shared.Return(pair);
        }
        return found;
    }

    /// <summary>The words, word pairs and CJK bigrams of a text, composed in the given buffers.</summary>
    private static void Words(string text, string prefix, TokenSink tokens, char[] current, char[] previous, char[] pair)
    {
        var word = ArrayPool<char>.Shared.Rent(64);
        var compatible = Compatible(text, out var length);
        try
        {
            Words(compatible is null ? text : compatible.AsSpan(0, length), prefix, tokens, ref word, current, previous, pair);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(word);
            if (compatible is not null) ArrayPool<char>.Shared.Return(compatible);
        }
    }

    private static void Words(ReadOnlySpan<char> text, string prefix, TokenSink tokens, ref char[] wordBuffer, char[] current, char[] previous, char[] pair)
    {
        // A local, not the ref parameter, for the local functions to read; written back whenever it grows.
        var word = wordBuffer;
        var wordLength = 0;
        var previousLength = -1;
        "bi:".CopyTo(pair);
        prefix.CopyTo(pair.AsSpan(3));
        char? previousCjk = null;
        var cjkRun = 0;
        void FlushWord()
        {
            if (wordLength > 0 && Word(word.AsSpan(0, wordLength), prefix, tokens, current) is var n and >= 0)
            {
                // Word pairs (SpamBayes' and CRM114's experience: phrases carry more than their words): "bi:" prefix previous " " word.
                if (previousLength >= 0)
                {
                    var at = 3 + prefix.Length;
                    previous.AsSpan(0, previousLength).CopyTo(pair.AsSpan(at));
                    at += previousLength;
                    pair[at++] = ' ';
                    current.AsSpan(0, n).CopyTo(pair.AsSpan(at));
                    tokens.Add(pair.AsSpan(0, at + n));
                }
                current.AsSpan(0, n).CopyTo(previous);
                previousLength = n;
            }
            wordLength = 0;
        }
        void EndCjk()
        {
            // A lone ideograph (run of one) is a token of its own; in a longer run the bigrams carry it.
            if (cjkRun == 1 && previousCjk is { } lone) tokens.Add(prefix, new ReadOnlySpan<char>(in lone));
            previousCjk = null;
            cjkRun = 0;
        }
        Span<char> bigram = stackalloc char[2];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < 0x80)
            {
                // ASCII, most of mail: a run of word characters is found and copied at once (vectorized), a separator ends the word.
                EndCjk();
                if (!AsciiWordChars.Contains(c))
                {
                    FlushWord();
                    continue;
                }
                var run = text[i..].IndexOfAnyExcept(AsciiWordChars);
                if (run < 0) run = text.Length - i;
                if (wordLength + run > word.Length)
                {
                    Grow(ref word, wordLength + run);
                    wordBuffer = word;
                }
                text.Slice(i, run).CopyTo(word.AsSpan(wordLength));
                wordLength += run;
                i += run - 1;
                continue;
            }
            if (IsCjk(c))
            {
                FlushWord();
                previousLength = -1;
                if (previousCjk is { } p)
                {
                    bigram[0] = p;
                    bigram[1] = c;
                    tokens.Add(prefix, bigram);
                }
                previousCjk = c;
                cjkRun++;
            }
            else
            {
                EndCjk();
                if (char.IsLetterOrDigit(c) || IsWordSymbol(c))
                {
                    if (wordLength == word.Length)
                    {
                        Grow(ref word, wordLength + 1);
                        wordBuffer = word;
                    }
                    word[wordLength++] = c;
                }
                else FlushWord();
            }
        }
        FlushWord();
        EndCjk();
    }

    /// <summary>NFKC folds full-width Latin letters and digits (common in CJK spam) to their plain forms.
    /// Our own tables (GrainMail.Text): under InvariantGlobalization string.Normalize does nothing.
    /// Unpaired surrogates pass through as they are. Null when the text is all below U+00A0 (its own NFKC), else a pooled
    /// buffer, <paramref name="length"/> characters of it the text's NFKC (the caller returns it).</summary>
    private static char[]? Compatible(string text, out int length) => UnicodeNormalization.RentNfkc(text, out length);

    /// <summary>The characters that make words besides letters and digits.</summary>
    private static bool IsWordSymbol(char c) => c is '$' or '\'' or '-' or '!' or '€' or '£' or '¥' or '%';

    /// <summary>The ASCII characters of words: letters, digits (<see cref="char.IsLetterOrDigit(char)"/> in ASCII) and the ASCII
    /// ones of <see cref="IsWordSymbol"/>.</summary>
    private static readonly SearchValues<char> AsciiWordChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789$'-!%");

    /// <summary>A pooled word buffer at least <paramref name="needed"/> long (and twice the old), the word so far copied.</summary>
    private static void Grow(ref char[] word, int needed)
    {
        var longer = ArrayPool<char>.Shared.Rent(Math.Max(needed, word.Length * 2));
        word.CopyTo(longer, 0);
        ArrayPool<char>.Shared.Return(word);
        word = longer;
    }

    /// <summary>The word's tokens; writes the lower-cased word into <paramref name="lower"/> (at least
    /// <see cref="MaxWordLength"/> long) and returns its length, or -1 when it was skipped or too short.</summary>
    private static int Word(ReadOnlySpan<char> raw, string prefix, TokenSink tokens, Span<char> lower)
    {
        var w = raw.Trim("'-");
        if (w.Length == 0) return -1;
        if (w.Length < 3 && !w.Contains('$') && !w.Contains('!')) return -1;
        if (w.Length > MaxWordLength)
        {
            // "skip:" first letter (lower case) ' ' length rounded down to tens.
            Span<char> skip = stackalloc char["skip:".Length + 2 + 11];
            "skip:".CopyTo(skip);
            skip["skip:".Length] = char.ToLowerInvariant(w[0]);
            skip["skip:".Length + 1] = ' ';
            (w.Length / 10 * 10).TryFormat(skip[("skip:".Length + 2)..], out var digits, default, CultureInfo.InvariantCulture);
            tokens.Add(prefix, skip[..("skip:".Length + 2 + digits)]);
            return -1;
        }
        // Invariant lower-casing maps each UTF-16 unit to one: the same length, the same result as string.ToLowerInvariant.
        // ASCII (most words): the vectorized ASCII lower-casing, the same result for ASCII.
        var n = Ascii.ToLower(w, lower, out var written) == OperationStatus.Done ? written : w.ToLowerInvariant(lower);
        Span<char> token = stackalloc char[prefix.Length + "upper:".Length + MaxWordLength];
        prefix.CopyTo(token);
        lower[..n].CopyTo(token[prefix.Length..]);
        tokens.Add(token[..(prefix.Length + n)]);
        // Shouting is evidence of its own, besides the word.
        if (w.Length >= 4 && Shouts(w))
        {
            "upper:".CopyTo(token[prefix.Length..]);
            lower[..n].CopyTo(token[(prefix.Length + "upper:".Length)..]);
            tokens.Add(token[..(prefix.Length + "upper:".Length + n)]);
        }
        return n;
    }

    /// <summary>At least one letter, and every letter upper case.</summary>
    private static bool Shouts(ReadOnlySpan<char> w)
    {
        var letter = false;
        foreach (var ch in w)
        {
            if (!char.IsLetter(ch)) continue;
            if (!char.IsUpper(ch)) return false;
            letter = true;
        }
        return letter;
    }

    /// <summary>A URL's host and its parent domains (to two labels) as tokens, and whether it names an IP address.</summary>
    private static void Url(string url, TokenSink tokens)
    {
        var m = UrlHost().Match(url);
        if (!m.Success) return;
        var groups = m.Groups;
        if (groups[1].Length > 0) tokens.AddLower("proto:", groups[1].ValueSpan);
        var host = groups[2].ValueSpan.TrimEnd('.').ToString().ToLowerInvariant();
        if (host.Length == 0) return;
        if (IPAddress.TryParse(host, out _))
        {
            tokens.Add("url:ip");
            return;
        }
        // The host and each parent domain down to the last two labels (the host from the start of each label but the last).
        for (var start = 0; ;)
        {
            var dot = host.IndexOf('.', start);
            if (dot < 0) break;
            tokens.Add("url:", host.AsSpan(start));
            start = dot + 1;
        }
        // The path's words (remove, optout, click, cgi names) say what a link is for: the first eight pieces between the
        // separators (empty ones left out), those 3 to 20 characters long.
        FirstPieces(url.AsSpan(m.Index + m.Length), UrlSeparators, 3, 20, "url-path:", tokens);
    }

    /// <summary>The first eight non-empty pieces of <paramref name="text"/> between <paramref name="separators"/>: those
    /// <paramref name="min"/> to <paramref name="max"/> characters long become "<paramref name="prefix"/>piece" tokens,
    /// lower-cased (the others still count among the eight). Header values and URL paths.</summary>
    private static void FirstPieces(ReadOnlySpan<char> text, SearchValues<char> separators, int min, int max, string prefix, TokenSink tokens)
    {
        var taken = 0;
        foreach (var range in text.SplitAny(separators))
        {
            var piece = text[range];
            if (piece.IsEmpty) continue;
            if (piece.Length >= min && piece.Length <= max) tokens.AddLower(prefix, piece);
            if (++taken == 8) break;
        }
    }

    private static readonly SearchValues<char> UrlSeparators = SearchValues.Create("/.?=&-_#%+:;,");

    /// <summary>Han ideographs, kana and Hangul syllables: scripts written without spaces between words.</summary>
    public static bool IsCjk(char c) =>
        c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\u3040' and <= '\u30FF'
            or >= '\uAC00' and <= '\uD7AF' or >= '\uF900' and <= '\uFAFF';

    [GeneratedRegex(@"<\s*([a-zA-Z][a-zA-Z0-9]{0,15})\b[^>]*>|<\s*/\s*[a-zA-Z][a-zA-Z0-9]*\s*>|<!--.*?-->", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex Tag();

    [GeneratedRegex(@"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", RegexOptions.Singleline | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ScriptOrStyle();

    [GeneratedRegex(@"\b(href|src|action)\s*=\s*[""']?([^""'\s>]+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Attribute();

    [GeneratedRegex(@"(?:https?|ftp)://[^\s<>""']+|www\.[^\s<>""']+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Link();

    [GeneratedRegex(@"^(?:(https?|ftp|mailto):(?://)?)?(?:[^@/\s]*@)?([A-Za-z0-9\-\.\[\]:]+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UrlHost();

    [GeneratedRegex(@"\bfrom\s+([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReceivedFrom();

    [GeneratedRegex(@"[+-]\d{4}|\b(?:UT|GMT|[ECMP][SD]T)\b", RegexOptions.CultureInvariant)]
    private static partial Regex DateZone();

    [GeneratedRegex(@"\s{3,}[\w\[\]#-]*\d+[\w\[\]#-]*\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex TrailingId();

    [GeneratedRegex(@"&#x?[0-9a-fA-F]+;", RegexOptions.CultureInvariant)]
    private static partial Regex NumericEntity();

    [GeneratedRegex(@"\[(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})\]", RegexOptions.CultureInvariant)]
    private static partial Regex BracketedIp();

    [GeneratedRegex(@"^\s*from\s+(\S+)(?:\s*\(([^)]*)\))?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReceivedClause();

    [GeneratedRegex(@"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", RegexOptions.CultureInvariant)]
    private static partial Regex BareIp();

    [GeneratedRegex(@"^(?:127|10|169\.254|192\.168|172\.(?:1[6-9]|2\d|3[01]))\.", RegexOptions.CultureInvariant)]
    private static partial Regex PrivateIp();

    [GeneratedRegex(@"dsl|dial|ppp|pool|cable|dhcp|dyn|client|modem|broadband|in-addr|\d{1,3}[-.]\d{1,3}[-.]\d{1,3}|[a-z]\d{5,}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DynamicName();

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)", RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"<a\s[^>]{0,500}?\bhref\s*=\s*[""']?([^""'\s>]+)[^>]{0,500}>(.{0,300}?)<\s*/\s*a\s*>", RegexOptions.IgnoreCase | RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex Anchor();

    [GeneratedRegex(@"(?:https?://|www\.)[^\s<>""']+|\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:com|net|org|biz|info|edu|gov|us|uk|de|ca|au)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ShownAddress();

    /// <summary>
    /// Where the tokenizer puts its tokens. A token may be given in pieces (a family's prefix and the word, a field name and
    /// its value): the token is their concatenation. <see cref="StringSink"/> collects the strings (tests, validation
    /// harnesses); <see cref="HashSink"/> only their hashes, computed from the pieces' characters (the MX path).
    /// </summary>
    private abstract class TokenSink
    {
        public abstract void Add(ReadOnlySpan<char> token);

        public abstract void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b);

        public abstract void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b, ReadOnlySpan<char> c);

        public void Add(string token) => Add(token.AsSpan());

        /// <summary><paramref name="prefix"/> and <paramref name="value"/> lower-cased as by <see cref="string.ToLowerInvariant"/>
        /// (one UTF-16 unit to one: the same as the span's invariant lower-casing).</summary>
        public void AddLower(ReadOnlySpan<char> prefix, ReadOnlySpan<char> value)
        {
            if (value.Length > 256)
            {
                Add(prefix, value.ToString().ToLowerInvariant());
                return;
            }
            Span<char> lower = stackalloc char[value.Length];
            value.ToLowerInvariant(lower);
            Add(prefix, lower);
        }
    }

    /// <summary>The tokens as strings, a string made only of a token the set does not hold yet (its alternate lookup; a set
    /// given by a caller with a comparer that has none gets a string each time).</summary>
    private sealed class StringSink : TokenSink
    {
        private readonly HashSet<string> _tokens;
        private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
        private readonly bool _hasLookup;

        public StringSink(HashSet<string> tokens)
        {
            _tokens = tokens;
            _hasLookup = tokens.TryGetAlternateLookup(out _lookup);
        }

        public override void Add(ReadOnlySpan<char> token)
        {
            if (_hasLookup) _lookup.Add(token);
            else _tokens.Add(token.ToString());
        }

        public override void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b) => Add(a, b, default);

        public override void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b, ReadOnlySpan<char> c)
        {
            var length = a.Length + b.Length + c.Length;
            var rented = length > 256 ? ArrayPool<char>.Shared.Rent(length) : null;
            Span<char> token = rented is null ? stackalloc char[256] : rented;
            a.CopyTo(token);
            b.CopyTo(token[a.Length..]);
            c.CopyTo(token[(a.Length + b.Length)..]);
            Add(token[..length]);
            if (rented is not null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    /// <summary>The tokens' hashes (<see cref="TokenHash"/>: <see cref="ContentClassifier.Hash(string)"/> of the token's string),
    /// distinct. One per thread is kept for reuse, cleared between messages.</summary>
    private sealed class HashSink : TokenSink
    {
        [ThreadStatic]
        private static HashSink? _cached;

        public readonly HashSet<long> Hashes = new(512);

        public static HashSink Rent()
        {
            var sink = _cached ?? new HashSink();
            _cached = null;
            return sink;
        }

        /// <summary>Keeps the sink for the thread's next message, unless a huge message grew it (its memory is given back).</summary>
        public static void Return(HashSink sink)
        {
            if (sink.Hashes.Count > 16_384) return;
            sink.Hashes.Clear();
            _cached = sink;
        }

        public override void Add(ReadOnlySpan<char> token) => Hashes.Add(ContentClassifier.Hash(token));

        public override void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
        {
            var h = TokenHash.Start();
            h.Append(a);
            h.Append(b);
            Hashes.Add(h.Finish());
        }

        public override void Add(ReadOnlySpan<char> a, ReadOnlySpan<char> b, ReadOnlySpan<char> c)
        {
            var h = TokenHash.Start();
            h.Append(a);
            h.Append(b);
            h.Append(c);
            Hashes.Add(h.Finish());
        }
    }
}
