using System.Text;
using GrainMail.Trust.Content;
using MimeKit;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>The tokenizer's structural family ("st:"): how a message was made and carried, read from the hop that handed
/// it to the receiving side, the Date field against that hop's time, the Message-ID against the From domain and the
/// relays, and the From display name; and the classifier's extra weight for that family.</summary>
public sealed class MessageTokenizerTests
{
    private static MimeMessage Parse(string raw) => MimeMessage.Load(new MemoryStream(Encoding.Latin1.GetBytes(raw)));

    private static HashSet<string> Structure(string raw)
    {
        var tokens = MessageTokenizer.Tokenize(Parse(raw));
        return tokens.Where(t => t.StartsWith("st:", StringComparison.Ordinal)).ToHashSet();
    }

    // The recipient's own hops on top: a local delivery (loopback) and a POP3 retrieval, which say nothing of the sender.
    private const string LocalHops =
        "Received: from localhost (localhost [127.0.0.1]) by box.example (Postfix) with ESMTP id 1; Thu, 22 Aug 2002 08:17:21 -0400\r\n"
        + "Received: from mail.isp.example [193.120.211.219] by localhost with POP3 (fetchmail-5.9.0) for u@localhost; Thu, 22 Aug 2002 13:17:21 +0100\r\n";

    [Fact]
    public void Spamware_handing_over_from_a_bare_client_with_a_date_from_the_future_says_so()
    {
        var s = Structure(LocalHops
            + "Received: from dd_it7 ([210.97.77.167]) by mx.isp.example (8.9.3) with ESMTP id NAA04623; Thu, 22 Aug 2002 13:09:41 +0100\r\n"
            + "Received: from r-smtp.example.kr - 203.122.2.197 by dd_it7 with SMTPSVC; Sat, 24 Aug 2002 09:42:10 +0900\r\n"
            + "From: \"FREE MONEY NOW\" <bot@web.example>\r\nMessage-ID: <0103c1042001882DD_IT7@dd_it7>\r\n"
            + "Date: Fri, 23 Aug 2002 20:31:57 +0100\r\nSubject: hi\r\n\r\nbody\r\n");
        // The Message-ID names the client's own HELO: a relay's domain, not the From domain's.
        Assert.Equal(["st:date-skew:future-hours", "st:from-name:caps", "st:helo:nodot", "st:mid:relay-domain", "st:rdns:none"], s.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_named_relay_whose_helo_matches_and_a_message_id_of_the_from_domain_read_as_ordinary_mail()
    {
        var s = Structure(LocalHops
            + "Received: from mail.python.org (mail.python.org [12.155.117.29]) by mx.isp.example (8.11.6) with ESMTP id g1; Wed, 4 Dec 2002 11:47:58 GMT\r\n"
            + "Received: from localhost.localdomain ([127.0.0.1] helo=mail.python.org) by mail.python.org with esmtp; Wed, 04 Dec 2002 06:49:29 -0500\r\n"
            + "From: Michael <mwh@python.org>\r\nMessage-ID: <2madyyyyqa0s.fsf@starship.python.org>\r\n"
            + "Date: Wed, 04 Dec 2002 11:40:23 +0000\r\nSubject: Re: tokens\r\n\r\nbody\r\n");
        Assert.Equal(["st:date-skew:hour", "st:helo-rdns:same", "st:helo:fqdn", "st:mid:from-domain", "st:rdns:named"], s.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_dynamic_pool_client_claiming_another_name_and_a_message_id_of_a_relay_are_told_apart()
    {
        var s = Structure("Received: from yahoo.com (a227055.upc-a.chello.example [62.163.227.55] (may be forged)) by mx.isp.example with SMTP id g; Tue, 3 Dec 2002 17:51:23 GMT\r\n"
            + "From: \"bob@yahoo.com\" <offers@yahoo.com>\r\nMessage-ID: <x1@smtp.chello.example>\r\n"
            + "Date: Sun, 1 Dec 2002 17:51:23 GMT\r\nSubject: offer\r\n\r\nbody\r\n");
        Assert.Equal(["st:date-skew:days", "st:from-name:address", "st:helo-rdns:other", "st:helo:fqdn", "st:hop:forged", "st:mid:relay-domain", "st:rdns:dynamic"],
            s.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Mail_that_never_crossed_a_public_hop_and_grainmails_own_stamp_are_read_as_such()
    {
        // Generated on the receiving host itself (a feed, a cron mail): no hop from a public address, no Message-ID.
        var local = Structure("Received: from box.example (localhost [127.0.0.1]) by box.example with ESMTP id 1; Tue, 8 Oct 2002 09:00:04 +0100\r\n"
            + "From: feed@box.example\r\nDate: Tue, 8 Oct 2002 09:00:04 +0100\r\nSubject: news\r\n\r\nbody\r\n");
        Assert.Equal(["st:hop:none", "st:mid:none"], local.Order(StringComparer.Ordinal));
        // GrainMail's SMTP stamp records the HELO and the address but no reverse-DNS name (TraceHeaders.Received).
        var ours = Structure("Received: from [203.0.113.5] ([203.0.113.5])\r\n\tby mx.grainmail.test (GrainMail) with ESMTP id 7; Tue, 8 Oct 2002 09:00:04 +0000\r\n"
            + "From: a@b.example\r\nMessage-ID: <1@b.example>\r\nDate: Tue, 8 Oct 2002 09:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n");
        Assert.Equal(["st:date-skew:minutes", "st:helo:ip", "st:mid:from-domain", "st:rdns:none"], ours.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_structural_token_is_in_the_closed_vocabulary_even_for_broken_headers()
    {
        var random = new Random(5);
        var pieces = new[] { "from", " ", "(", ")", "[", "]", "1.2.3.4", "10.0.0.1", "unknown", "@", ";", "may be forged", "dsl-1-2-3.example", "x.y", "\r\n\t" };
        for (var i = 0; i < 300; i++)
        {
            var received = string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => pieces[random.Next(pieces.Length)]));
            var raw = $"Received: {received}; Thu, 22 Aug 2002 13:09:41 +0100\r\nFrom: \"{pieces[random.Next(pieces.Length)]}\" <a@b.example>\r\n"
                + $"Message-ID: <{pieces[random.Next(pieces.Length)]}>\r\nDate: Thu, 22 Aug 2002 13:0{i % 10}:41 +0100\r\n\r\nbody\r\n";
            foreach (var t in Structure(raw)) Assert.Contains(t, MessageTokenizer.StructureTokens);
        }
        Assert.Equal(MessageTokenizer.StructureTokens.Count, ContentClassifier.StructureHashes.Count);
    }

    [Fact]
    public void A_structural_clue_counts_structure_weight_times_in_the_sum_and_other_clues_once()
    {
        var structural = ContentClassifier.Hash("st:rdns:dynamic");
        var word = ContentClassifier.Hash("viagra");
        // Each token seen in 90 of 100 spam and 10 of 100 ham.
        var model = new ModelCounts(100, 100, new Dictionary<long, TokenCounts> { [structural] = new(90, 10), [word] = new(90, 10) });
        var f = ContentClassifier.TokenProbability(word, model, null);
        var one = Math.Log(f / (1 - f));
        var plain = ContentClassifier.Classify([structural, word], model, null, ClassifierSettings.Default with { StructureWeight = 1 });
        Assert.Equal(2 * one, plain.Score, 9);
        var weighted = ContentClassifier.Classify([structural, word], model, null, ClassifierSettings.Default with { StructureWeight = 10 });
        Assert.Equal(11 * one, weighted.Score, 9);
        Assert.Equal(2, weighted.Clues);
        Assert.Equal(ContentClassifier.StructureWeight, ClassifierSettings.Default.StructureWeight);
    }

    [Fact]
    public void A_users_junk_move_teaches_words_but_not_structure()
    {
        var structural = ContentClassifier.Hash("st:helo-rdns:same");
        var word = ContentClassifier.Hash("zorblax");
        // Globally the structural token is ordinary mail's (10 spam, 90 ham); the user learned one message carrying both as spam.
        var global = new ModelCounts(100, 100, new Dictionary<long, TokenCounts> { [structural] = new(10, 90) });
        var user = new ModelCounts(1, 0, new Dictionary<long, TokenCounts> { [structural] = new(1, 0), [word] = new(1, 0) });
        var settings = ClassifierSettings.Default with { StructureWeight = 1 };
        var fGlobal = ContentClassifier.TokenProbability(structural, global, null);
        var fWord = ContentClassifier.TokenProbability(word, ModelCounts.Empty, user);
        var verdict = ContentClassifier.Classify([structural, word], global, user, settings);
        Assert.Equal(Math.Log(fGlobal / (1 - fGlobal)) + Math.Log(fWord / (1 - fWord)), verdict.Score, 9);
        Assert.True(fWord > 0.9, $"f={fWord}");
    }

    private static HashSet<string> Family(string raw, string prefix) =>
        MessageTokenizer.Tokenize(Parse(raw)).Where(t => t.StartsWith(prefix, StringComparison.Ordinal)).ToHashSet();

    // A newsletter handed over by its own mail server: From, Message-ID and the relay are all shop.example.
    private const string ShopHeaders =
        "Received: from mta.shop.example (mta.shop.example [198.51.100.7]) by mx.rcpt.example with ESMTP id 1; Tue, 8 Oct 2002 09:00:04 +0000\r\n"
        + "From: Shop News <news@shop.example>\r\nMessage-ID: <n1@shop.example>\r\nDate: Tue, 8 Oct 2002 09:00:00 +0000\r\nSubject: sale\r\n";

    private static string Html(string body) => ShopHeaders + "Content-Type: text/html\r\n\r\n<html><body>" + body + "</body></html>\r\n";

    [Fact]
    public void Links_to_the_senders_own_organisation_are_aligned_and_links_elsewhere_are_not()
    {
        Assert.Contains("st:link:aligned:all", Family(Html("<a href=\"http://www.shop.example/sale\">the sale</a> and http://shop.example/terms"), "st:link:"));
        Assert.Contains("st:link:aligned:some", Family(Html("<a href=\"http://www.shop.example/sale\">the sale</a> <a href=\"https://pics.other.example/x\">x</a>"), "st:link:"));
        var none = Family(Html("<a href=\"http://cheap-pills.example/buy\">buy</a>"), "st:link:");
        Assert.Contains("st:link:aligned:none", none);
        Assert.DoesNotContain("st:link:aligned:all", none);
        // The handing-over relay's name counts as the sender's too (a mailing service's own tracking host).
        var relay = Family("Received: from out.esp.example (out.esp.example [198.51.100.8]) by mx.rcpt.example with ESMTP id 2; Tue, 8 Oct 2002 09:00:04 +0000\r\n"
            + "From: a@shop.example\r\nMessage-ID: <m@shop.example>\r\nDate: Tue, 8 Oct 2002 09:00:00 +0000\r\n\r\nsee http://click.esp.example/c?1\r\n", "st:link:");
        Assert.Contains("st:link:aligned:all", relay);
        // mailto: and relative links are not web links: no link token at all.
        Assert.Empty(Family(Html("<a href=\"mailto:news@shop.example\">write</a> <a href=\"/about\">about</a>"), "st:link:"));
    }

    [Fact]
    public void An_anchor_showing_another_organisations_address_is_deceptive_and_an_honest_one_is_not()
    {
        Assert.Contains("st:link:deceptive", Family(Html("<a href=\"http://evil.example/login\">https://www.bank.example/login</a>"), "st:link:"));
        Assert.Contains("st:link:deceptive", Family(Html("<a href=\"http://login.evil.example/\"><b>www.bank.example</b></a>"), "st:link:"));
        var honest = Family(Html("<a href=\"https://secure.bank.example/login\">www.bank.example</a> <a href=\"http://evil.example/\">click here</a>"), "st:link:");
        Assert.DoesNotContain("st:link:deceptive", honest);
    }

    [Theory]
    [InlineData("http://198.51.100.9/login", "st:link:numeric-host")]
    [InlineData("http://3325256713/login", "st:link:numeric-host")]
    [InlineData("http://0xC6336409/login", "st:link:numeric-host")]
    [InlineData("http://www.bank.example@evil.example/login", "st:link:userinfo")]
    [InlineData("http://%65%76%69%6c.example/login", "st:link:encoded-host")]
    [InlineData("http://r.example/go?to=http://evil.example/", "st:link:redirect")]
    [InlineData("http://r.example/go?u=http%3A%2F%2Fevil.example%2F", "st:link:redirect")]
    public void Links_that_hide_where_they_lead_are_told(string url, string expected)
    {
        var text = Family(ShopHeaders + "\r\nPlease go to " + url + " today\r\n", "st:link:");
        Assert.Contains(expected, text);
        var href = Family(Html("<a href=\"" + url + "\">here</a>"), "st:link:");
        Assert.Contains(expected, href);
        var plain = Family(ShopHeaders + "\r\nPlease go to http://www.shop.example/login today\r\n", "st:link:");
        Assert.DoesNotContain(expected, plain);
        Assert.Equal(["st:link:aligned:all"], plain.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_link_tokens_are_weighed_as_structure()
    {
        foreach (var t in new[] { "st:link:aligned:all", "st:link:aligned:some", "st:link:aligned:none", "st:link:deceptive", "st:link:numeric-host",
                     "st:link:encoded-host", "st:link:userinfo", "st:link:redirect" })
        {
            Assert.Contains(t, MessageTokenizer.StructureTokens);
            Assert.Contains(ContentClassifier.Hash(t), ContentClassifier.StructureHashes);
        }
    }

    [Fact]
    public void Texts_decoded_once_for_the_mx_path_give_the_same_tokens_and_hashes_as_decoding_in_the_tokenizer()
    {
        // A multipart message with a plain part, a quoted-printable HTML part with a link, a part in an unknown charset and an
        // attachment: the tokenizer must make the same set from DecodedTexts.
        var raw = "From: \"Shop\" <deals@shop.example>\r\nTo: u@box.example\r\nSubject: Cheap watches\r\nMessage-ID: <1@shop.example>\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
            + "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBuy now at https://deals.shop.example/x FREE offer\r\n"
            + "--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + "<p>Caf=E9 <a href=3D\"http://track.other.example/c\">click</a></p>\r\n"
            + "--b\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nwords here\r\n"
            + "--b\r\nContent-Type: application/zip; name=a.zip\r\nContent-Disposition: attachment; filename=a.zip\r\n"
            + "Content-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b--\r\n";
        var message = Parse(raw);
        var decoded = DecodedTexts.Of(message);
        var alone = MessageTokenizer.Tokenize(message);
        Assert.Equal(3, decoded.PartCount);
        // The unknown charset is no "undecodable:" token: MimeKit reads the part anyway (as UTF-8, falling back to
        // ISO-8859-1), so it is decoded, as TextPart.Text gives it, and tokenized like any other text part.
        var unknown = message.BodyParts.OfType<TextPart>().ElementAt(2);
        Assert.Equal("x-no-such-charset", unknown.ContentType.Charset);
        Assert.Equal(unknown.Text, decoded.Part(2));
        Assert.StartsWith("words here", decoded.Part(2));
        Assert.Contains("charset:x-no-such-charset", alone);
        Assert.DoesNotContain(alone, t => t.StartsWith("undecodable:", StringComparison.Ordinal));
        Assert.Equal(alone.Order(StringComparer.Ordinal), MessageTokenizer.Tokenize(message, decoded).Order(StringComparer.Ordinal));
        Assert.Equal(ContentClassifier.HashedTokens(message), ContentClassifier.HashedTokens(message, decoded));
        Assert.Equal(alone.Select(ContentClassifier.Hash).Distinct().Order(), ContentClassifier.HashedTokens(message, decoded));
        // Texts of another message are refused rather than read as this one's.
        Assert.Throws<ArgumentException>(() => MessageTokenizer.Tokenize(Parse(raw), decoded));
    }
}
