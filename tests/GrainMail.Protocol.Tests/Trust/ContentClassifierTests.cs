using System.Text;
using GrainMail.Trust.Content;
using GrainMail.Trust.Dkim;
using GrainMail.Trust.Dmarc;
using GrainMail.Trust.Results;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>The tokenizer (charsets, HTML, CJK bigrams), GTUBE, the chi-square classifier over two models,
/// and the allow/block lists' rule that an allow entry never covers a From: that fails DMARC.</summary>
public sealed class ContentClassifierTests
{
    static ContentClassifierTests() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    private static MimeMessage Parse(string raw) => MimeMessage.Load(new MemoryStream(Encoding.Latin1.GetBytes(raw)));

    // GBK is code page 936 (the name is MIME's; .NET knows the number for sure).
    private static string Base64(string text, string charset) =>
        Convert.ToBase64String((charset == "gbk" ? Encoding.GetEncoding(936) : Encoding.GetEncoding(charset)).GetBytes(text));

    [Fact]
    public void A_gb2312_subject_and_body_are_decoded_and_split_into_bigrams()
    {
        var raw = $"From: <a@example.cn>\r\nSubject: =?GB2312?B?{Base64("代开发票", "gb2312")}?=\r\nMIME-Version: 1.0\r\n"
            + $"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n{Base64("本公司代开各类发票，价格优惠。", "gb2312")}\r\n";
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        Assert.Contains("s:代开", tokens);
        Assert.Contains("s:发票", tokens);
        Assert.Contains("发票", tokens);
        Assert.Contains("公司", tokens);
        Assert.Contains("优惠", tokens);
        Assert.Contains("charset:gb2312", tokens);
        // Punctuation ends a run: no bigram spans "票，价".
        Assert.DoesNotContain("票价", tokens);
    }

    [Fact]
    public void Full_width_latin_reads_as_the_plain_word()
    {
        // Spam written in full-width letters to slip past word filters must give the same tokens.
        var raw = "From: <a@example.cn>\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "\uFF26\uFF32\uFF25\uFF25 \uFF56\uFF49\uFF41\uFF47\uFF52\uFF41 \uFB01nance 发票\r\n";
        // UTF-8 bytes on purpose: Parse goes through Latin-1, whose best-fit mapping would fold the letters itself.
        var tokens = MessageTokenizer.Tokenize(MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(raw))));
        Assert.Contains("free", tokens);
        Assert.Contains("viagra", tokens);
        Assert.Contains("finance", tokens);
        Assert.Contains("发票", tokens);
        Assert.DoesNotContain(tokens, t => t.Any(c => c is >= '\uFF01' and <= '\uFF5E'));
    }

    [Theory]
    [InlineData("big5", "免費試用")]
    [InlineData("gb18030", "免费试用")]
    [InlineData("gbk", "免费试用")]
    public void Legacy_chinese_charsets_decode_to_the_same_bigrams(string charset, string text)
    {
        var raw = $"From: <a@example.tw>\r\nSubject: x\r\nContent-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n\r\n{Base64(text, charset)}\r\n";
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        Assert.Contains(text[..2], tokens);
        Assert.Contains(text[2..], tokens);
    }

    [Fact]
    public void Iso_2022_jp_text_is_decoded()
    {
        var message = new MimeMessage { Subject = "会議" };
        message.From.Add(MailboxAddress.Parse("a@example.jp"));
        var part = new TextPart("plain");
        part.SetText(Encoding.GetEncoding("iso-2022-jp"), "明日の会議について");
        message.Body = part;
        using var buffer = new MemoryStream();
        message.WriteTo(buffer);
        Assert.Contains("iso-2022-jp", Encoding.ASCII.GetString(buffer.ToArray()), StringComparison.OrdinalIgnoreCase);
        var tokens = MessageTokenizer.Tokenize(MimeMessage.Load(new MemoryStream(buffer.ToArray())));
        Assert.Contains("会議", tokens);
        Assert.Contains("明日", tokens);
    }

    [Fact]
    public void Html_gives_its_text_and_link_hosts_but_neither_tag_names_nor_scripts()
    {
        var raw = "From: <a@example.com>\r\nSubject: offer\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
            + "<html><style>.cheap{color:red}</style><script>var hidden = 'scriptword';</script><body><p>Cheapest <b>pills</b> &amp; more</p>"
            + "<a href=\"http://shop.pills.example/buy?id=1\">click</a><img src='https://203.0.113.9/x.gif'></body></html>\r\n";
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        Assert.Contains("cheapest", tokens);
        Assert.Contains("pills", tokens);
        Assert.Contains("url:shop.pills.example", tokens);
        Assert.Contains("url:pills.example", tokens);
        Assert.Contains("url:ip", tokens);
        Assert.Contains("url-path:buy", tokens);
        // HTML as such is no evidence: ham newsletters are HTML too.
        Assert.DoesNotContain(tokens, t => t.StartsWith("html:", StringComparison.Ordinal));
        Assert.DoesNotContain("scriptword", tokens);
        Assert.DoesNotContain("cheap", tokens);
        Assert.DoesNotContain(tokens, t => t.Contains('<'));
    }

    [Fact]
    public void Header_names_relays_and_part_encodings_are_tokens()
    {
        var raw = "Received: from relay.sender.example (relay.sender.example [198.51.100.7]) by mx.grainmail.test\r\n"
            + "Received: from localhost (localhost [127.0.0.1]) by relay.sender.example\r\n"
            + "From: <a@example.com>\r\nX-Priority: 1\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Transfer-Encoding: quoted-printable\r\n\r\nhello there=0D=0A\r\n";
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        Assert.Contains("hdr:x-priority", tokens);
        Assert.Contains("rcvd:sender.example", tokens);
        Assert.Contains("rcvd-ip:198.51", tokens);
        Assert.Contains("rcvd-ip:198.51.100", tokens);
        // Loopback hops say nothing about the sender.
        Assert.DoesNotContain("rcvd-ip:127.0", tokens);
        Assert.Contains("part:text/plain", tokens);
        Assert.Contains("cte:quotedprintable", tokens);
    }

    [Fact]
    public void Cjk_runs_become_overlapping_bigrams_and_a_lone_ideograph_stays_whole()
    {
        var tokens = new HashSet<string>();
        MessageTokenizer.Text("中文邮件 好 한국어", "", tokens);
        foreach (var expected in new[] { "中文", "文邮", "邮件", "好", "한국", "국어" }) Assert.Contains(expected, tokens);
        // No bigram across a space, and no single characters inside a longer run.
        Assert.DoesNotContain("件好", tokens);
        Assert.DoesNotContain("中", tokens);
        Assert.DoesNotContain("件好", tokens);
    }

    [Fact]
    public void Consecutive_words_also_give_word_pairs_but_not_across_cjk_text()
    {
        var raw = "From: <a@example.com>\r\nSubject: Limited offer inside\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Click here now, 中文 order today\r\n";
        var tokens = MessageTokenizer.Tokenize(MimeMessage.Load(new MemoryStream(Encoding.UTF8.GetBytes(raw))));
        Assert.Contains("click", tokens);
        Assert.Contains("bi:click here", tokens);
        Assert.Contains("bi:here now", tokens);
        Assert.Contains("bi:order today", tokens);
        // Subject pairs keep the subject's prefix inside the family's.
        Assert.Contains("bi:s:limited offer", tokens);
        // A CJK run breaks the sequence of words.
        Assert.DoesNotContain("bi:now order", tokens);
        Assert.Contains("中文", tokens);
    }

    [Fact]
    public void Header_values_subject_shape_and_the_mime_tree_are_tokens()
    {
        var raw = "From: <promo77@bulk.example>\r\nReply-To: <x@elsewhere.example>\r\nTo: <u@grainmail.test>\r\n"
            + "Date: Tue, 1 Dec 2026 10:00:00 -0500\r\nX-MSMail-Priority: High\r\nSubject: FREE CASH FOR YOU!          58213\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
            + "--b\r\nContent-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html <img src=\"http://bulk.example/a.gif\"></p>\r\n--b--\r\n";
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        Assert.Contains("hv:x-msmail-priority:high", tokens);
        Assert.Contains("hv:date-zone:-0500", tokens);
        Assert.Contains("hv:from:no-name", tokens);
        Assert.Contains("hv:from:local-digits", tokens);
        Assert.Contains("hv:reply-to:other-domain", tokens);
        Assert.Contains("sf:all-caps", tokens);
        Assert.Contains("sf:exclaim", tokens);
        Assert.Contains("sf:trailing-id", tokens);
        Assert.Contains("mime:multipart/alternative", tokens);
        Assert.Contains("mime:multipart/alternative>text/html", tokens);
        Assert.Contains("mime:parts:few", tokens);
        Assert.Contains("bf:html:img", tokens);
        Assert.Contains("bf:text:links:0", tokens);
    }

    [Fact]
    public void A_reply_prefix_is_a_token_though_too_short_for_a_word()
    {
        var tokens = MessageTokenizer.Tokenize(Parse("From: <a@example.com>\r\nSubject: Re: the build\r\n\r\nok\r\n"));
        Assert.Contains("sf:re", tokens);
        Assert.DoesNotContain("sf:all-caps", tokens);
        Assert.DoesNotContain("s:re", tokens);
    }

    [Fact]
    public void Gtube_is_found_in_any_text_part()
    {
        var message = new MimeMessage();
        var multipart = new Multipart("mixed") { new TextPart("plain") { Text = "hello" }, new TextPart("html") { Text = "<p>" + Gtube.Text + "</p>" } };
        message.Body = multipart;
        Assert.True(Gtube.Contains(message));
        message.Body = new TextPart("plain") { Text = "XJS*C4JDBQADN1 almost" };
        Assert.False(Gtube.Contains(message));
    }

    // Sixteen clues each: the log-odds combiner adds evidence per clue, and a real message has hundreds of tokens.
    private static readonly string[] SpamWords = ["viagra", "cheap", "winner", "casino", "prize", "offer", "unsubscribe", "free",
        "pills", "lottery", "claim", "bonus", "discount", "guaranteed", "credit", "refinance"];
    private static readonly string[] HamWords = ["meeting", "agenda", "review", "patch", "build", "release", "notes", "thanks",
        "commit", "branch", "minutes", "draft", "schedule", "design", "bugfix", "changelog"];

    private static ModelCounts Trained(int spamMessages, int hamMessages)
    {
        var tokens = new Dictionary<long, TokenCounts>();
        foreach (var w in SpamWords) tokens[ContentClassifier.Hash(w)] = new TokenCounts(spamMessages * 9 / 10, hamMessages / 100);
        foreach (var w in HamWords) tokens[ContentClassifier.Hash(w)] = new TokenCounts(spamMessages / 100, hamMessages * 9 / 10);
        return new ModelCounts(spamMessages, hamMessages, tokens);
    }

    private static long[] Hashes(params string[] words) => words.Select(ContentClassifier.Hash).ToArray();

    [Fact]
    public void Spam_clues_give_bayes_99_and_ham_clues_bayes_00()
    {
        var model = Trained(500, 2500);
        var spam = ContentClassifier.Classify(Hashes([.. SpamWords, "unknownword"]), model, null);
        Assert.True(spam.Probability > 0.99, $"p={spam.Probability}");
        Assert.Equal(SpamWords.Length, spam.Clues);
        Assert.Equal("BAYES_99", ContentSymbols.For(spam)!.Name);
        var ham = ContentClassifier.Classify(Hashes(HamWords), model, null);
        Assert.True(ham.Probability < 0.01, $"p={ham.Probability}");
        Assert.Equal("BAYES_00", ContentSymbols.For(ham)!.Name);
        var mixed = ContentClassifier.Classify(Hashes([.. SpamWords[..4], .. HamWords[..4]]), model, null);
        Assert.InRange(mixed.Probability, 0.1, 0.9);
    }

    [Fact]
    public void An_untrained_model_says_nothing()
    {
        var verdict = ContentClassifier.Classify(Hashes(SpamWords), ModelCounts.Empty, null);
        Assert.Equal(0, verdict.Clues);
        Assert.Null(ContentSymbols.For(verdict));
    }

    [Fact]
    public void A_users_own_judgement_overrides_the_global_model_for_the_tokens_they_taught()
    {
        var global = Trained(500, 2500);
        // The user gets mail about casinos as work: one message learned as ham.
        var tokens = Hashes(SpamWords);
        var user = new ModelCounts(0, 1, tokens.ToDictionary(h => h, _ => new TokenCounts(0, 1)));
        Assert.True(ContentClassifier.Classify(tokens, global, null).Probability > 0.99);
        Assert.True(ContentClassifier.Classify(tokens, global, user).Probability < 0.5);
        // Only spam learned, no global data: each taught token is a strong spam clue.
        var onlySpam = new ModelCounts(1, 0, tokens.ToDictionary(h => h, _ => new TokenCounts(1, 0)));
        Assert.True(ContentClassifier.Classify(tokens, ModelCounts.Empty, onlySpam).Probability > 0.99);
    }

    [Fact]
    public void Chi_square_survival_matches_known_values()
    {
        Assert.Equal(1.0, ContentClassifier.ChiSquareSurvival(0, 4), 6);
        Assert.Equal(Math.Exp(-1), ContentClassifier.ChiSquareSurvival(2, 2), 9);
        // Q(9.488, 4) = 0.05 (the 95th percentile of chi-square with 4 degrees of freedom).
        Assert.Equal(0.05, ContentClassifier.ChiSquareSurvival(9.4877, 4), 3);
    }

    [Fact]
    public void Chi_square_survival_does_not_underflow_with_hundreds_of_clues()
    {
        // m = 750 > 708 (where e^-m underflows) but far below dof/2 = 1000: the true value is ~1, not 0.
        Assert.True(ContentClassifier.ChiSquareSurvival(1500, 2000) > 0.999);
        // And far above: ~0.
        Assert.True(ContentClassifier.ChiSquareSurvival(6000, 200) < 1e-12);
        Assert.Equal(0.5, ContentClassifier.ChiSquareSurvival(1.386294, 2), 5);
    }

    [Fact]
    public void Many_mild_ham_clues_stay_on_the_ham_side()
    {
        // 800 tokens each seen in 3 ham and 1 spam of a balanced model: every clue leans ham (f = 0.28 after
        // smoothing), and so must their combination; the log-odds combiner counts every one of them.
        var words = Enumerable.Range(0, 800).Select(i => "mild" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var model = new ModelCounts(100, 100, Hashes(words).ToDictionary(h => h, _ => new TokenCounts(1, 3)));
        var verdict = ContentClassifier.Classify(Hashes(words), model, null);
        Assert.Equal(words.Length, verdict.Clues);
        Assert.True(verdict.Probability < 0.05, $"p={verdict.Probability}");
        Assert.Equal("BAYES_00", ContentSymbols.For(verdict)!.Name);
    }

    [Fact]
    public void A_token_seen_once_leans_by_the_shipped_strength_and_the_junk_score_is_the_bayes_99_edge()
    {
        // Robinson's f(w) = (s · 0.5 + n · p) / (s + n): a token seen in one spam of a balanced model, never in ham, is
        // (0.175 + 1) / 1.35 = 0.870 with s = 0.35 (0.833 with session 8's s = 0.5).
        var once = ContentClassifier.Hash("seenonce");
        var model = new ModelCounts(100, 100, new Dictionary<long, TokenCounts> { [once] = new(1, 0) });
        Assert.Equal((0.35 * 0.5 + 1) / 1.35, ContentClassifier.TokenProbability(once, model, null), 9);
        // The log-odds sum JunkScore maps to p = 0.99 exactly: BAYES_99 begins there, not below.
        var f = 1 / (1 + Math.Exp(-ContentClassifier.JunkScore / 40));
        var tokens = Enumerable.Range(0, 40).Select(i => ContentClassifier.Hash("edge" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray();
        var atEdge = new ModelCounts(1_000_000, 1_000_000, tokens.ToDictionary(h => h, _ => new TokenCounts((int)Math.Round(1e6 * f), (int)Math.Round(1e6 * (1 - f)))));
        var verdict = ContentClassifier.Classify(tokens, atEdge, null);
        // Within 0.01: the counts are whole numbers, so the sum lands near the edge, not on it (rounding to one decimal
        // place would fail whenever the constant sits on a .x5 boundary).
        Assert.Equal(ContentClassifier.JunkScore, verdict.Score, 0.01);
        Assert.Equal(0.99, verdict.Probability, 3);
    }

    [Fact]
    public void Token_hashes_are_stable_and_never_the_totals_key()
    {
        Assert.Equal(ContentClassifier.Hash("viagra"), ContentClassifier.Hash("viagra"));
        Assert.NotEqual(ContentClassifier.Hash("viagra"), ContentClassifier.Hash("Viagra"));
        Assert.NotEqual(ContentClassifier.TotalsToken, ContentClassifier.Hash(""));
        // FNV-1a 64 of "a" (published test vector).
        Assert.Equal(unchecked((long)0xaf63dc4c8601ec8c), ContentClassifier.Hash("a"));
    }

    private static InboundVerdicts Verdicts(DmarcResult dmarc) => new(null, null,
        dmarc == DmarcResult.Pass ? [new DkimSignatureVerdict(DkimResult.Pass, "bank.example", "s", "rsa-sha256", "abc", "ok")] : [],
        dmarc == DmarcResult.None ? null : new DmarcVerdict(dmarc, DmarcPolicy.Reject, "bank.example", "bank.example", DmarcPolicy.Reject, "test"), null);

    [Fact]
    public void An_allow_entry_covers_an_authenticated_from_only()
    {
        SenderListEntry[] entries = [new(ListScope.User, true, "bank.example")];
        var pass = SenderLists.Evaluate(entries, "alerts@bank.example", "bounce@bank.example", Verdicts(DmarcResult.Pass));
        Assert.Equal("USER_ALLOW", Assert.Single(pass).Name);
        Assert.True(Assert.Single(pass).Weight < -10);
        var spoofed = SenderLists.Evaluate(entries, "alerts@bank.example", "x@evil.example", Verdicts(DmarcResult.Fail));
        Assert.Equal("ALLOW_UNVERIFIED", Assert.Single(spoofed).Name);
        Assert.Equal(0, Assert.Single(spoofed).Weight);
        // No DMARC record and nothing aligned passed: not authenticated either.
        Assert.Equal("ALLOW_UNVERIFIED", Assert.Single(SenderLists.Evaluate(entries, "alerts@bank.example", null, Verdicts(DmarcResult.None))).Name);
        // The envelope sender alone never earns an allow.
        Assert.Empty(SenderLists.Evaluate(entries, "someone@other.example", "alerts@bank.example", Verdicts(DmarcResult.Pass)));
    }

    [Fact]
    public void Block_entries_match_from_or_envelope_sender_and_subdomains_and_win_over_allow()
    {
        SenderListEntry[] entries = [new(ListScope.Domain, false, "spam.example"), new(ListScope.User, true, "friend@spam.example")];
        Assert.Equal("DOMAIN_BLOCK", Assert.Single(SenderLists.Evaluate(entries, "friend@spam.example", null, Verdicts(DmarcResult.Pass))).Name);
        Assert.Equal("DOMAIN_BLOCK", Assert.Single(SenderLists.Evaluate(entries, "a@ok.example", "x@mx.spam.example", Verdicts(DmarcResult.None))).Name);
        Assert.Empty(SenderLists.Evaluate(entries, "a@notspam.example", null, Verdicts(DmarcResult.None)));
    }

    [Fact]
    public void Random_bytes_and_mutated_messages_never_break_the_tokenizer()
    {
        var random = new Random(1414);
        var valid = Encoding.UTF8.GetBytes("From: <a@example.com>\r\nSubject: =?GB2312?B?tPq/qreixrE=?=\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=big5\r\n\r\nhello\r\n"
            + "--b\r\nContent-Type: text/html; charset=iso-2022-jp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=\"http://x.example/\">=1B$B</a>\r\n--b--\r\n");
        for (var i = 0; i < 1500; i++)
        {
            byte[] input;
            if (i % 2 == 0)
            {
                input = new byte[random.Next(0, 600)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])valid.Clone();
                for (var k = random.Next(1, 12); k > 0; k--) input[random.Next(input.Length)] = (byte)random.Next(256);
            }
            MimeMessage message;
            try
            {
                message = MimeMessage.Load(new MemoryStream(input));
            }
            catch (FormatException)
            {
                continue; // MimeKit refused it as a message: the MX path never gets this far with it either
            }
            var tokens = ContentClassifier.HashedTokens(message);
            Assert.True(tokens.SequenceEqual(tokens.Order()), "hashed tokens come sorted");
            _ = Gtube.Contains(message);
        }
    }

    [Theory]
    [InlineData("Friend@Example.COM", "friend@example.com")]
    [InlineData("example.com.", "example.com")]
    [InlineData("@example.com", null)]
    [InlineData("nodot", null)]
    [InlineData("a b@example.com", null)]
    [InlineData("", null)]
    public void List_entries_are_normalized_or_refused(string input, string? expected) => Assert.Equal(expected, SenderLists.Normalize(input));
}
