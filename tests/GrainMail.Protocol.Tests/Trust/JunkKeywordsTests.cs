using GrainMail.Trust.Learning;

namespace GrainMail.Protocol.Tests.Trust;

/// <summary>Which keyword changes are a spam verdict ($Junk / $NotJunk, any case) and which are none.</summary>
public sealed class JunkKeywordsTests
{
    public static TheoryData<string, string, bool?> Changes => new()
    {
        // before, after (comma-separated), verdict
        { "", "$Junk", true },
        { "", "$junk", true },
        { "projecty,projectx", "projectx,$JUNK", true },
        { "$NotJunk", "$Junk", true },
        { "", "$NotJunk", false },
        { "", "$notjunk", false },
        { "$Junk", "$NotJunk", false },
        { "$Junk", "", false },
        { "$junk,projectx", "projectx", false },
        { "$Junk,$NotJunk", "$Junk", true },
        { "$Junk,$NotJunk", "$NotJunk", false },
        // No verdict: nothing changed, both at once, $NotJunk taken away, other keywords.
        { "$Junk", "$junk", null },
        { "$Junk", "$Junk,projectx", null },
        { "", "$Junk,$NotJunk", null },
        { "$NotJunk", "", null },
        { "", "projectx", null },
        { "", "", null },
        { "", "$Junked", null },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void A_keyword_change_is_a_verdict_only_when_it_moves_the_message_into_or_out_of_junk(string before, string after, bool? verdict) =>
        Assert.Equal(verdict, JunkKeywords.Verdict(Split(before), Split(after)));

    private static string[] Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries);
}
