using GrainMail.Contracts.Governance;
using GrainMail.Contracts.Mailboxes;

namespace GrainMail.Protocol.Tests;

/// <summary>The pure decisions of governance: which submissions an approval rule holds, which monitoring
/// relations the seed's rules allow, and which messages retention makes due.</summary>
public sealed class GovernanceRulesTests
{
    private static ApprovalRule Rule(string[]? senders = null, long[]? departments = null, bool outside = false, string[]? toDomains = null,
        bool attachments = false, long? sizeOver = null, string[]? keywords = null, string[]? patterns = null) =>
        new(1, "r", senders ?? [], departments ?? [], outside, toDomains ?? [], attachments, sizeOver, keywords ?? [], patterns ?? [],
            "boss@corp.test", TimeSpan.FromHours(1), "late");

    private static MessageFacts Facts(string account = "alice@corp.test", long[]? path = null, string[]? to = null, bool attachments = false,
        long size = 1000, string subject = "hello", string body = "plain words") =>
        new(account, path ?? [1, 5], to ?? ["bob@corp.test"], attachments, size, subject, body);

    public static TheoryData<string, ApprovalRule, MessageFacts, bool> Cases => new()
    {
        { "an empty rule holds everything", Rule(), Facts(), true },
        { "listed sender", Rule(senders: ["alice@corp.test"]), Facts(), true },
        { "unlisted sender", Rule(senders: ["carol@corp.test"]), Facts(), false },
        { "department subtree (5 under 1)", Rule(departments: [5]), Facts(path: [1, 5, 9]), true },
        { "other department", Rule(departments: [7]), Facts(path: [1, 5]), false },
        { "sender or department, either", Rule(senders: ["carol@corp.test"], departments: [5]), Facts(), true },
        { "outside the domain: internal mail", Rule(outside: true), Facts(), false },
        { "outside the domain: one external recipient", Rule(outside: true), Facts(to: ["bob@corp.test", "x@else.example"]), true },
        { "named domain", Rule(toDomains: ["rival.example"]), Facts(to: ["ceo@rival.example"]), true },
        { "named domain not addressed", Rule(toDomains: ["rival.example"]), Facts(to: ["x@else.example"]), false },
        { "attachments wanted, none", Rule(attachments: true), Facts(), false },
        { "attachments wanted, present", Rule(attachments: true), Facts(attachments: true), true },
        { "size at the limit is not over", Rule(sizeOver: 1000), Facts(size: 1000), false },
        { "size over", Rule(sizeOver: 1000), Facts(size: 1001), true },
        { "keyword in the subject, any case", Rule(keywords: ["Confidential"]), Facts(subject: "CONFIDENTIAL plan"), true },
        { "keyword in the body", Rule(keywords: ["merger"]), Facts(body: "about the merger"), true },
        { "keyword absent", Rule(keywords: ["merger"]), Facts(), false },
        { "pattern", Rule(patterns: [@"\b\d{4}-\d{4}-\d{4}-\d{4}\b"]), Facts(body: "card 1234-5678-9012-3456"), true },
        { "pattern absent", Rule(patterns: [@"\b\d{4}-\d{4}-\d{4}-\d{4}\b"]), Facts(), false },
        { "every condition must hold", Rule(senders: ["alice@corp.test"], outside: true), Facts(), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Approval_rules_match_as_specified(string because, ApprovalRule rule, MessageFacts facts, bool held) =>
        Assert.True(ApprovalMatcher.Matches(rule, facts) == held, because);

    [Fact]
    public void A_pattern_that_does_not_compile_is_refused_with_its_reason()
    {
        Assert.Null(ApprovalMatcher.InvalidPattern(["a+b", @"\d"]));
        Assert.Contains("(unclosed", ApprovalMatcher.InvalidPattern(["ok", "(unclosed"]));
    }

    [Fact]
    public void Monitoring_refuses_self_a_second_master_and_cycles_through_chains()
    {
        var none = new Dictionary<string, string>();
        Assert.Equal(MonitoringStatus.SelfMonitoring, MonitoringRules.Check(none, "a", "a"));
        Assert.Equal(MonitoringStatus.Ok, MonitoringRules.Check(none, "a", "b"));
        var chain = new Dictionary<string, string> { ["a"] = "b", ["b"] = "c" }; // b monitors a, c monitors b
        Assert.Equal(MonitoringStatus.AlreadyHasMaster, MonitoringRules.Check(chain, "a", "d"));
        Assert.Equal(MonitoringStatus.Cycle, MonitoringRules.Check(chain, "c", "a"));
        Assert.Equal(MonitoringStatus.Cycle, MonitoringRules.Check(chain, "c", "b"));
        // A monitored account may itself be a master, and a master may have several monitored accounts.
        Assert.Equal(MonitoringStatus.Ok, MonitoringRules.Check(chain, "d", "a"));
        Assert.Equal(MonitoringStatus.Ok, MonitoringRules.Check(chain, "e", "c"));
    }

    [Fact]
    public void Retention_days_come_from_the_folder_then_its_special_use_default_then_the_domain()
    {
        var none = new Dictionary<string, int>();
        Assert.Equal(30, RetentionRules.DaysFor(none, "Junk", SpecialUse.Junk));
        Assert.Equal(30, RetentionRules.DaysFor(none, "Deleted Items", SpecialUse.Trash));
        Assert.Equal(0, RetentionRules.DaysFor(none, "INBOX", SpecialUse.Inbox));
        var policy = new Dictionary<string, int> { ["Trash"] = 7, ["*"] = 365, ["Projects/old"] = 10, ["Junk"] = 0 };
        Assert.Equal(7, RetentionRules.DaysFor(policy, "Deleted Items", SpecialUse.Trash));
        Assert.Equal(0, RetentionRules.DaysFor(policy, "Junk", SpecialUse.Junk));
        Assert.Equal(10, RetentionRules.DaysFor(policy, "Projects/old", SpecialUse.None));
        Assert.Equal(365, RetentionRules.DaysFor(policy, "INBOX", SpecialUse.Inbox));
    }

    [Fact]
    public void A_message_is_due_once_it_has_been_in_its_folder_for_the_days()
    {
        var now = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var arrived = now.AddDays(-100);
        Assert.False(RetentionRules.IsDue(now.AddDays(-29), arrived, 30, now)); // moved to Trash 29 days ago
        Assert.True(RetentionRules.IsDue(now.AddDays(-30), arrived, 30, now));
        Assert.True(RetentionRules.IsDue(null, arrived, 30, now)); // no save date: its arrival counts
        Assert.False(RetentionRules.IsDue(null, arrived, 0, now)); // 0 keeps
    }
}
