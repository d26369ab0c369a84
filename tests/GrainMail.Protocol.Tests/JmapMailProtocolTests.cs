using System.Text;
using System.Text.Json.Nodes;
using GrainMail.Contracts.Mailboxes;
using GrainMail.Gateways.Jmap.Mail;

namespace GrainMail.Protocol.Tests;

/// <summary>The pure parts of JMAP Mail: state tokens, keywords, Email properties read from MIME (RFC 8621 4.1).</summary>
public sealed class JmapMailProtocolTests
{
    private static FolderInfo Folder(int id, string name, long modseq, long uidNext) =>
        new(name, SpecialUse.None, 7, uidNext, modseq, 0, 0, 0, 0, true, id);

    [Fact]
    public void A_state_token_round_trips_and_changes_with_any_modseq()
    {
        var folders = new[] { Folder(2, "Sent", 5, 3), Folder(1, "INBOX", 10, 20) };
        var state = MailState.Of(folders);
        var marks = MailState.Parse(state)!;
        Assert.Equal([1, 2], marks.Select(m => m.FolderId));
        Assert.Equal((7L, 10L, 20L), (marks[0].UidValidity, marks[0].HighestModSeq, marks[0].UidNext));
        Assert.NotEqual(state, MailState.Of([Folder(2, "Sent", 5, 3), Folder(1, "INBOX", 11, 20)]));
        Assert.NotEqual(state, MailState.Of([Folder(2, "Sent2", 5, 3), Folder(1, "INBOX", 10, 20)]));
        Assert.Equal(state, MailState.Of(folders.AsEnumerable().Reverse()));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("1.2.3.4")]
    [InlineData("1.2.3.4.abc")]
    [InlineData("x.2.3.4.abcdef12")]
    [InlineData("1.2.3.4.abcdef12_")]
    public void Foreign_state_tokens_are_refused(string token) => Assert.Null(MailState.Parse(token));

    [Theory]
    [InlineData("$seen", true)]
    [InlineData("$Flagged", true)]
    [InlineData("projectx", true)]
    [InlineData("", false)]
    [InlineData("two words", false)]
    [InlineData("paren(", false)]
    [InlineData("中文", false)]
    public void Keywords_follow_the_imap_atom_rule(string keyword, bool valid) => Assert.Equal(valid, Keywords.IsValid(keyword.ToLowerInvariant()));

    [Fact]
    public void System_keywords_are_imap_flags()
    {
        Assert.True(Keywords.TrySplit(["$seen", "$draft", "ProjectX"], out var flags, out var custom));
        Assert.Equal(MessageFlags.Seen | MessageFlags.Draft, flags);
        Assert.Equal(["projectx"], custom);
        var meta = new MessageMeta(1, new BlobRef("d", [1], 1), DateTimeOffset.UnixEpoch, MessageFlags.Flagged | MessageFlags.Deleted, ["$Forwarded"], 1);
        Assert.Equal(["$flagged", "$forwarded"], Keywords.Of(meta));
    }

    private static EmailReader Read(string mime) => EmailReader.Parse(Encoding.UTF8.GetBytes(mime.Replace("\n", "\r\n")), "Babc");

    [Fact]
    public void Alternative_with_attachment_splits_into_text_html_and_attachments()
    {
        var r = Read("""
            From: =?UTF-8?B?546L5bCP5piO?= <wang@example.cn>
            To: a@example.com, Group: b@example.com, c@example.com;
            Subject: =?UTF-8?B?5Lit5paH5Li76aKY?=
            Date: Tue, 1 Dec 2026 10:00:00 +0800
            Message-ID: <m1@example.cn>
            References: <r1@example.cn> <r2@example.cn>
            List-Post: <mailto:list@example.cn>
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b1"

            --b1
            Content-Type: multipart/alternative; boundary="b2"

            --b2
            Content-Type: text/plain; charset=utf-8

            Hello   plain
            world
            --b2
            Content-Type: text/html; charset=utf-8

            <p>Hello <b>html</b></p>
            --b2--
            --b1
            Content-Type: application/pdf; name="a.pdf"
            Content-Disposition: attachment; filename="a.pdf"
            Content-Transfer-Encoding: base64

            JVBERi0xLjQ=
            --b1--
            """);
        Assert.Equal(["text/plain"], r.TextBody.Select(p => p.Type));
        Assert.Equal(["text/html"], r.HtmlBody.Select(p => p.Type));
        Assert.Equal(["application/pdf"], r.Attachments.Select(p => p.Type));
        Assert.Equal(["1", "2", "3"], r.AllParts().Select(p => p.PartId));
        Assert.True(r.TryHeaderProperty("subject", out var subject));
        Assert.Equal("中文主题", (string)subject!);
        r.TryHeaderProperty("from", out var from);
        Assert.Equal("王小明", (string)from![0]!["name"]!);
        r.TryHeaderProperty("header:To:asGroupedAddresses", out var grouped);
        Assert.Equal(2, grouped!.AsArray().Count);
        Assert.Equal("Group", (string)grouped[1]!["name"]!);
        r.TryHeaderProperty("references", out var refs);
        Assert.Equal(["r1@example.cn", "r2@example.cn"], refs!.AsArray().Select(x => (string)x!));
        r.TryHeaderProperty("header:List-Post:asURLs", out var urls);
        Assert.Equal("mailto:list@example.cn", (string)urls![0]!);
        r.TryHeaderProperty("sentAt", out var sent);
        Assert.Equal("2026-12-01T10:00:00+08:00", (string)sent!);
        r.TryHeaderProperty("hasAttachment", out var has);
        Assert.True((bool)has!);
        Assert.Equal("Hello plain world", r.Preview());
        var attachment = r.BodyPart(r.Attachments[0], EmailReader.DefaultBodyProperties);
        Assert.Equal("a.pdf", (string)attachment["name"]!);
        Assert.Equal("Babc-3", (string)attachment["blobId"]!);
        Assert.Equal(8, (long)attachment["size"]!);
        var truncated = EmailReader.BodyValue(r.TextBody[0], 7);
        Assert.True((bool)truncated["isTruncated"]!);
        Assert.Equal("Hello  ", (string)truncated["value"]!);
    }

    [Theory]
    [InlineData("header:Subject", "Subject", "asRaw", false)]
    [InlineData("header:From:asAddresses", "From", "asAddresses", false)]
    [InlineData("header:X-Thing:all", "X-Thing", "asRaw", true)]
    [InlineData("header:Date:asDate:all", "Date", "asDate", true)]
    public void Header_properties_parse(string property, string name, string form, bool all) =>
        Assert.Equal<(string, string, bool)?>((name, form, all), EmailReader.ParseHeaderProperty(property));

    [Theory]
    [InlineData("header:")]
    [InlineData("header:X:asNothing")]
    [InlineData("header:X:all:asText")]
    [InlineData("headers:X")]
    [InlineData("header:X:asText:all:more")]
    public void Bad_header_properties_are_refused(string property) => Assert.Null(EmailReader.ParseHeaderProperty(property));

    [Fact]
    public void Snippets_escape_html_and_mark_terms()
    {
        Assert.Equal("&lt;b&gt; <mark>销售</mark>数据 and <mark>SALES</mark>", EmailMethods.Highlight("<b> 销售数据 and SALES", ["销售", "sales"]));
        Assert.Null(EmailMethods.Excerpt("nothing here", ["absent"]));
    }
}
