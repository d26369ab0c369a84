using System.Text;
using GrainMail.Trust.Content;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>
/// The MX path's hashes (<see cref="ContentClassifier.HashedTokens(MimeMessage, DecodedTexts?)"/>, hashed from the characters
/// of each token's pieces, no strings) against the tokens as strings (<see cref="MessageTokenizer.Tokenize(MimeMessage, DecodedTexts?)"/>)
/// hashed by <see cref="ContentClassifier.Hash(string)"/> (UTF-8 by <see cref="Encoding.UTF8"/>): every model in the database is
/// keyed by these hashes, so the two must agree on every kind of message and character.
/// </summary>
public sealed class TokenHashIdentityTests
{
    static TokenHashIdentityTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>ASCII, two- and three-byte characters, surrogate pairs, unpaired surrogates (alone, at either end, doubled,
    /// reversed), U+FFFD itself, and tokens longer than <see cref="ContentClassifier.Hash(string)"/>'s stack buffer.</summary>
    private static readonly string[] Strings =
    [
        "", "a", "skip:x 40", "bi:hello world", "é", "ß€£¥", "url-path:caf\u00e9", "代开", "s:发票", "ｆｒｅｅ", "😀", "x😀y",
        "\uD83D", "\uDE00", "a\uD83D", "\uDE00a", "\uD83D\uD83D\uDE00", "\uDE00\uD83D", "a\uD83Db\uDE00c", "\uFFFD", "\u07FF\u0800\uFFFF",
        new string('a', 300), new string('中', 100), string.Concat(Enumerable.Repeat("😀\uD800", 50)),
    ];

    [Fact]
    public void The_span_hash_is_the_string_hash()
    {
        // Plain loops, not theory rows: test runners serialize rows, and unpaired surrogates do not survive that.
        foreach (var token in Strings)
        {
            var expected = ContentClassifier.Hash(token);
            Assert.Equal(expected, ContentClassifier.Hash(token.AsSpan()));
            // Composed of pieces at every cut, a surrogate pair cut in two included.
            for (var cut = 0; cut <= token.Length; cut++)
            {
                var h = TokenHash.Start();
                h.Append(token.AsSpan(0, cut));
                h.Append(token.AsSpan(cut));
                Assert.Equal(expected, h.Finish());
            }
        }
    }

    private static MimeMessage Parse(string raw) => MimeMessage.Load(new MemoryStream(Encoding.Latin1.GetBytes(raw)));

    private static string Base64(string text, string charset) => Convert.ToBase64String(Encoding.GetEncoding(charset).GetBytes(text), Base64FormattingOptions.InsertLineBreaks);

    private static string Latin1Of(string text, string charset) => Encoding.Latin1.GetString(Encoding.GetEncoding(charset).GetBytes(text));

    private const string EveryHeader =
        "Received: from mail.sender.example (mail.sender.example [203.0.113.7]) by mx.isp.example (Postfix) with ESMTP id 1; Thu, 22 Aug 2002 13:09:41 +0100\r\n"
        + "Received: from dd_it7 ([198.51.100.9]) by relay.example.net with SMTP; Thu, 22 Aug 2002 12:09:41 +0000\r\n"
        + "From: \"FREE Money NOW\" <Offers123@Sender.Example>\r\nReply-To: <reply@other.example>\r\n"
        + "To: <offers123@sender.example>, <b@x.example>, \"C\" <c@x.example>, d@x.example, e@x.example, f@x.example\r\nCc: <g@x.example>\r\n"
        + "Subject: Re: [list] FREE ＦＲＥＥ offer!!! $$$ 限时优惠          12345\r\nDate: Thu, 22 Aug 2002 08:00:00 -0400 (EDT)\r\n"
        + "Message-ID: <ABC.123@Sender.Example>\r\nX-Mailer: Microsoft Outlook Express 6.00.2600.0000\r\nUser-Agent: Mutt/1.4i (Linux)\r\n"
        + "X-Priority: 1 (Highest)\r\nX-MSMail-Priority: High\r\nImportance: High\r\nPrecedence: bulk\r\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2600.0000\r\n"
        + "Organization: Some (Big) Org; \"quoted\" <x>/y=z\r\nContent-Class: urn:content-classes:message\r\nX-Mailer-Version: 2.0.1\r\nMIME-Version: 1.0\r\n";

    private static IEnumerable<(string Name, MimeMessage Message)> Messages()
    {
        yield return ("plain", Parse("From: <a@example.com>\r\nTo: <b@example.org>\r\nSubject: the build\r\n\r\n"
            + "Hello Bob, the BUILD IS GREEN again! It's $100 or 50% off -- see http://www.Example.com/Remove/OptOut.cgi?id=42&x=click_here "
            + "and www.shop.example.co.uk/buy, write to Sales@Shop.Example.Com or http://192.0.2.1/x, ftp://user@files.example.net:21/pub/file.zip.\r\n"
            + "A long word " + new string('z', 30) + " and " + new string('Q', 200) + " and a hash 3f786850e387550fdab836ed7e6dc881de23001b.\r\n"
            + "'quoted' -dash- words, don't, O'Neil, 2002-08-22, €5 £3 ¥7, MiXeD CaSe, ÉCOLE, straße.\r\n"));
        yield return ("html", Parse(EveryHeader + "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n"
            + "Content-Type: text/plain; charset=us-ascii\r\n\r\nClick here: http://click.example.com/r?u=http%3a%2f%2fevil.example\r\n--b\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + "<html><head><style>p{display:none}</style><script>var a='<a href=x>';</script></head><body>"
            + "<p style=\"visibility:hidden\">Hidden WORDS</p><a href=\"http://www.paypal.com.evil.example/login\">www.paypal.com</a> "
            + "<a href='http://%77%77%77.example.org/'>there</a> <img src=\"http://images.example.net/pixel.gif\"> "
            + "<form action=\"http://[2001:db8::1]/post\"></form><a href=http://0x7f000001/>numeric</a> "
            + "&amp; &lt;b&gt; &#72;&#101;&#108;&#108;&#111; &#x4E2D;&#x6587; &#x1F600; &#xD83D; lone &#xDE00; http://x.example/ab&#xD83D;cd/&#x1F600;ef/caf&#233;s "
            + string.Concat(Enumerable.Repeat("&#65;", 25)) + " <!-- a comment --> mailto:Someone@Mail.Example.Org</body></html>\r\n--b--\r\n"));
        yield return ("quoted-printable, full-width Latin", Parse("From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <j@example.de>\r\nSubject: =?utf-8?b?"
            + Convert.ToBase64String(Encoding.UTF8.GetBytes("Ｗｉｎ ＢＩＧ ｍｏｎｅｙ １２３ ﬁnance ½")) + "?=\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen, =EF=BC=A6=EF=BC=B2=EF=BC=A5=EF=BC=A5 =EF=BD=8D=EF=BD=8F=EF=BD=8E=EF=BD=85=EF=BD=99!=\r\n"
            + " caf=C3=A9 na=C3=AFve =E2=84=A2 =E2=91=A0 =F0=9F=98=80=F0=9F=98=81 emoji=F0=9F=8E=89party\r\n"));
        yield return ("base64 UTF-8 with emoji", Parse("From: <a@example.com>\r\nSubject: emoji\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Convert.ToBase64String(Encoding.UTF8.GetBytes("Party 🎉🎉 time 😀 at http://emoji.example/😀/path and 𝐁𝐎𝐋𝐃 math letters, 한국어 텍스트 and Ελληνικά, русский ТЕКСТ."), Base64FormattingOptions.InsertLineBreaks) + "\r\n"));
        yield return ("GB2312", Parse($"From: <a@example.cn>\r\nSubject: =?GB2312?B?{Convert.ToBase64String(Encoding.GetEncoding("gb2312").GetBytes("代开发票"))}?=\r\nMIME-Version: 1.0\r\n"
            + $"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n{Base64("本公司代开各类发票，价格优惠。好 联系 QQ 12345 http://fapiao.example.cn/", "gb2312")}\r\n"));
        yield return ("Big5", Parse("From: <a@example.tw>\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + Latin1Of("繁體中文的郵件內容，優惠價格。", "big5") + "\r\n"));
        var jp = new MimeMessage { Subject = "会議のお知らせ" };
        jp.From.Add(new MailboxAddress("山田 太郎", "yamada@example.jp"));
        jp.To.Add(MailboxAddress.Parse("b@example.jp"));
        var part = new TextPart("plain");
        part.SetText(Encoding.GetEncoding("iso-2022-jp"), "明日の会議について、カタカナとひらがな。ＡＢＣ全角");
        jp.Body = part;
        using (var buffer = new MemoryStream())
        {
            jp.WriteTo(buffer);
            yield return ("ISO-2022-JP", MimeMessage.Load(new MemoryStream(buffer.ToArray())));
        }
        yield return ("attachments, an unknown charset, a long body", Parse(EveryHeader + "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n"
            + "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nunreadable\r\n--m\r\n"
            + "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            + string.Concat(Enumerable.Repeat("Caf\u00e9 CR\u00c8ME br\u00fbl\u00e9e NOW ", 1500)) + "\r\n--m\r\n"
            + "Content-Type: application/octet-stream; name=\"Invoice.PDF.exe\"\r\nContent-Disposition: attachment; filename=\"Invoice.PDF.exe\"\r\n"
            + "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\r\n--m\r\n"
            + "Content-Type: image/GIF; name=x.gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAAAAACw=\r\n--m--\r\n"));
        yield return ("what smtp-source -l 4096 sends", Parse("From: <bench@sender.test>\r\nTo: <u1@bench.test>\r\nDate: Thu,  3 Dec 2026 02:04:40 +0000 (UTC)\r\n"
            + "Message-Id: <6dfc.0003.0000@vm>\r\n\r\n" + string.Concat(Enumerable.Range(0, 52).Select(i => (i % 10) + new string('X', 78) + "\r\n"))));
        yield return ("headers only", Parse("Subject:\r\n\r\n"));
    }

    [Fact]
    public void The_hashed_tokens_are_the_hashes_of_the_token_strings_on_every_kind_of_message()
    {
        foreach (var (name, message) in Messages())
        {
            var strings = MessageTokenizer.Tokenize(message);
            var expected = strings.Select(ContentClassifier.Hash).Distinct().Order().ToArray();
            Assert.True(expected.Length > 3, name);
            var hashed = ContentClassifier.HashedTokens(message, DecodedTexts.Of(message));
            var missing = strings.Where(t => Array.BinarySearch(hashed, ContentClassifier.Hash(t)) < 0).ToList();
            Assert.True(missing.Count == 0, $"{name}: not in the hashed set: {string.Join(" | ", missing)}");
            Assert.Equal(expected, hashed);
            Assert.Equal(expected, ContentClassifier.HashedTokens(message));
        }
    }

    [Fact]
    public void The_messages_exercise_what_the_hasher_must_get_right()
    {
        // Else the identity above could hold only because no token had such characters.
        var all = Messages().SelectMany(m => MessageTokenizer.Tokenize(m.Message)).ToList();
        Assert.Contains(all, t => t.Contains("😀", StringComparison.Ordinal) || t.Contains("🎉", StringComparison.Ordinal));
        Assert.Contains(all, t => t.Any(c => c is >= '\u0080' and < '\u0800'));
        Assert.Contains(all, t => t.Any(MessageTokenizer.IsCjk));
        // Every token family but "undecodable:" (MimeKit still reads the part in an unknown charset, as UTF-8 or Latin-1).
        string[] families = ["s:", "bi:", "upper:", "skip:", "url:", "url-path:", "proto:", "email:", "hdr:", "hv:", "rcvd:", "rcvd-ip:", "sf:", "mime:",
            "bf:", "st:", "part:", "cte:", "charset:", "attach:", "attach-ext:", "from-name:", "agent:", "message-id:", "from:", "from-domain:",
            "reply-to:", "to:", "to-count:", "content-type:"];
        var missing = families.Where(f => !all.Exists(t => t.StartsWith(f, StringComparison.Ordinal))).ToList();
        Assert.True(missing.Count == 0, "no tokens of " + string.Join(", ", missing));
    }

    /// <summary>Texts as the tokenizer's text reader gets them, with what decoded mail cannot hold (unpaired surrogates) too:
    /// in URL paths, next to words and CJK, at the ends; with each prefix a text is read with.</summary>
    private static readonly (string Text, string Prefix)[] Texts =
    [
        ("see http://x.example/ab\uD83Dcd/\uDE00ef/caf\u00e9s/😀😀x and www.y.example/\uD83D\uD83D\uDE00-z", ""),
        ("lone \uD83D in words\uDE00and ＦＵＬＬ ｗｉｄｔｈ 中\uD800文 x\uDBFF", ""),
        ("\uDC00start and end\uD800", "s:"),
        ("ＢＵＹ ＮＯＷ 限时优惠 $$$ " + new string('x', 100) + " http://a.example/" + new string('\uD83D', 3), "from-name:"),
        ("Mutt/1.4i (Linux) \uD83D\uDE00", "agent:"),
        ("mail Me@Sub.Example.COM or http://[::1]/x and HTTP://Upper.Example.com/Path/To?Q=1#F", ""),
    ];

    [Fact]
    public void A_texts_hashed_tokens_are_the_hashes_of_its_token_strings()
    {
        foreach (var (text, prefix) in Texts)
        {
            var strings = new HashSet<string>(StringComparer.Ordinal);
            MessageTokenizer.Text(text, prefix, strings);
            Assert.NotEmpty(strings);
            Assert.Equal(strings.Select(ContentClassifier.Hash).Distinct().Order().ToArray(), MessageTokenizer.HashedText(text, prefix));
        }
    }

    [Fact]
    public void The_texts_hold_tokens_with_unpaired_surrogates()
    {
        var strings = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (text, prefix) in Texts) MessageTokenizer.Text(text, prefix, strings);
        Assert.Contains(strings, t => t.Where(char.IsHighSurrogate).Count() != t.Where(char.IsLowSurrogate).Count());
    }
}
