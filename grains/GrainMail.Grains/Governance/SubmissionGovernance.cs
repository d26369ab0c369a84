using GrainMail.Contracts;
using GrainMail.Contracts.Governance;
using GrainMail.Operations.Spool;
using GrainMail.Storage.Delivery;
using GrainMail.Storage.Governance;
using MimeKit;

namespace GrainMail.Grains.Governance;

/// <summary>
/// Governance on the submit path, on the silo, before the commit: outbound approval turns a
/// matching submission into a held row (4.2.14); monitoring adds the masters' mailboxes to the
/// copies (4.2.7: one more event each in the same transaction, so a redelivered event cannot
/// double a copy — the mailbox is idempotent on the delivery id like every copy's); an account's
/// submission is recorded for its sent list and recall (4.1.5). Everything is decided here and
/// written by the one submit transaction, so a failover either loses the whole message (the
/// client was told 451) or keeps all of it.
/// </summary>
public sealed class SubmissionGovernance(GovernanceStore store, GovernanceClock clock)
{
    // The header section is what the sent record needs; rules that look at the body read it all.
    private const int HeaderWindow = 256 * 1024;

    /// <summary>An authenticated account's submission: held, or sent with monitoring copies and a sent record.</summary>
    public async Task<Submission> ForSubmissionAsync(IGrainFactory grains, Submission s, string account)
    {
        account = MailAddress.Normalize(account) ?? account;
        var domain = MailAddress.DomainOf(account);
        var policy = await grains.GetGrain<IGovernanceGrain>(domain).Policy();
        var headers = await HeadersAsync(s.Raw);
        if (policy.Rules.Count > 0 && await HoldAsync(grains, policy, s, account, headers) is { } held) return held;
        return await SendAsync(grains, s, account, headers);
    }

    /// <summary>A held message released by its reviewer: monitoring copies and a sent record, as at submission.</summary>
    public async Task<Submission> AfterApprovalAsync(IGrainFactory grains, Submission s, string account, byte[] raw) =>
        await SendAsync(grains, s, account, Headers(raw.AsMemory(0, Math.Min(raw.Length, HeaderWindow))));

    /// <summary>Mail from the internet: the monitored recipients' masters get a copy.</summary>
    public Task<Submission> ForInboundAsync(IGrainFactory grains, Submission s) => WithMonitoringCopiesAsync(grains, s, null);

    private async Task<Submission> SendAsync(IGrainFactory grains, Submission s, string account, HeaderList headers)
    {
        var withCopies = await WithMonitoringCopiesAsync(grains, s, account);
        return withCopies with { Sent = new SentDraft(account, MessageIdOf(headers), headers[HeaderId.Subject] ?? "", s.Mailboxes) };
    }

    private static async Task<List<string>> ExternalListMembersAsync(IGrainFactory grains, IReadOnlyList<string> lists)
    {
        var external = new List<string>();
        foreach (var accepted in lists.Distinct(StringComparer.Ordinal))
        {
            var (list, command) = GrainMail.Contracts.Lists.ListStreams.Split(accepted);
            if (command is not null) continue;
            var members = await grains.GetGrain<GrainMail.Contracts.Lists.IMailingListGrain>(list).GetMembers() ?? [];
            external.AddRange(members.Where(m => m.Kind == GrainMail.Contracts.Lists.ListMemberKind.External).Select(m => m.Value));
        }
        return external;
    }

    private async Task<Submission?> HoldAsync(IGrainFactory grains, GovernancePolicy policy, Submission s, string account, HeaderList headers)
    {
        var needsContent = policy.Rules.Any(r => r.HasAttachments || r.Keywords.Count + r.Patterns.Count > 0);
        var needsDepartment = policy.Rules.Any(r => r.Departments.Count > 0);
        string subject = headers[HeaderId.Subject] ?? "", body = "";
        var attachments = false;
        if (needsContent)
        {
            using var stream = new MemoryStream(await s.Raw.ToArrayAsync(), writable: false);
            var message = await MimeMessage.LoadAsync(stream);
            subject = message.Subject ?? "";
            body = string.Join("\n", message.BodyParts.OfType<TextPart>().Where(p => !p.IsAttachment).Select(p => p.Text));
            attachments = message.Attachments.Any();
        }
        // A list post reaches the list's external members too: rules about recipients outside the
        // domain or in named domains see them (a list must not be a way round outbound approval).
        var throughLists = policy.Rules.Any(r => r.OutsideDomain || r.ToDomains.Count > 0) ? await ExternalListMembersAsync(grains, s.Lists) : new List<string>();
        var facts = new MessageFacts(account, needsDepartment ? await store.DepartmentPathAsync(account) : [],
            [.. s.Mailboxes, .. s.External ?? [], .. s.Lists, .. throughLists], attachments, s.Raw.Length, subject, body);
        if (ApprovalMatcher.FirstMatch(policy.Rules, facts) is not { } rule) return null;
        var now = clock.GetUtcNow();
        var row = new ApprovalHoldRow(Guid.CreateVersion7(now), policy.Domain, rule.Id, rule.Name, rule.Reviewer, account, s.Sender,
            s.Mailboxes.Distinct(StringComparer.Ordinal).ToList(), (s.External ?? []).Distinct(StringComparer.Ordinal).ToList(),
            s.Lists.Distinct(StringComparer.Ordinal).ToList(), s.Dsn, s.RecipientDsn ?? new Dictionary<string, string>(), s.RequireTls,
            policy.Domain, await s.Raw.HashAsync(), s.Raw.Length, subject.Length > 500 ? subject[..500] : subject, rule.ExpiryReason,
            now, now + rule.ExpireAfter);
        return s with { Mailboxes = [], External = null, ExternalOwner = null, Lists = [], Approval = row };
    }

    private static async Task<Submission> WithMonitoringCopiesAsync(IGrainFactory grains, Submission s, string? account)
    {
        var domains = s.Mailboxes.Select(MailAddress.DomainOf).Append(account is null ? null : MailAddress.DomainOf(account))
            .OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var present = new HashSet<string>(s.Mailboxes, StringComparer.Ordinal);
        var masters = new List<string>();
        foreach (var domain in domains)
        {
            var policy = await grains.GetGrain<IGovernanceGrain>(domain).Policy();
            if (policy.Masters.Count == 0) continue;
            // Received: each monitored recipient's master; sent: the monitored sender's master.
            foreach (var who in s.Mailboxes.Where(m => MailAddress.DomainOf(m) == domain).Select(m => (string?)m).Append(account))
            {
                if (who is not null && policy.Masters.TryGetValue(who, out var master) && present.Add(master)) masters.Add(master);
            }
        }
        if (masters.Count == 0) return s;
        // A master's copy never reports to the sender (a bounce would reveal the monitoring).
        var dsn = new Dictionary<string, string>(s.RecipientDsn ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        foreach (var m in masters) dsn[m] = "NOTIFY=NEVER";
        return s with { Mailboxes = [.. s.Mailboxes, .. masters], RecipientDsn = dsn };
    }

    private static string? MessageIdOf(HeaderList headers) =>
        headers[HeaderId.MessageId]?.Trim() is { Length: > 0 } id ? id.TrimStart('<').TrimEnd('>') : null;

    private static async Task<HeaderList> HeadersAsync(MessageContent content)
    {
        using var head = new MemoryStream();
        await foreach (var chunk in content.ReadAsync(64 * 1024))
        {
            head.Write(chunk.Span);
            if (head.Length >= HeaderWindow) break;
        }
        return Headers(head.ToArray());
    }

    private static HeaderList Headers(ReadOnlyMemory<byte> head)
    {
        try
        {
            using var ms = new MemoryStream(head.ToArray(), writable: false);
            return new MimeParser(ms, MimeFormat.Entity).ParseHeaders();
        }
        catch (FormatException)
        {
            return new HeaderList();
        }
    }
}
