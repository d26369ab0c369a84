using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Contracts.Lists;
using GrainMail.Contracts.Outbound;
using GrainMail.Gateways.Smtp.Protocol;
using Microsoft.Extensions.Logging;

namespace GrainMail.Gateways.Smtp.Session;

/// <summary>What RCPT asks about one recipient.</summary>
/// <param name="Address">The forward path as sent ("postmaster" for the bare form).</param>
/// <param name="User">The authenticated account; null on MX and before AUTH.</param>
/// <param name="DeclaredSize">MAIL FROM's SIZE, if given.</param>
/// <param name="Sender">MAIL FROM's reverse path; null for the null path (&lt;&gt;) or when not known. A mailing list's post policy judges it.</param>
public sealed record RcptCheck(string Address, string? User, SmtpService Service, long? DeclaredSize, string? Sender = null);

/// <summary>The answer to a <see cref="RcptCheck"/>: the reply, and for an accepted recipient where it delivers.</summary>
/// <param name="Address">The normalised address (as accepted), or the one refused.</param>
/// <param name="MaxMessageBytes">The recipient domain's own message size limit, if lower than the server's.</param>
/// <param name="List">A mailing list address (as accepted): the message goes to the list's stream.</param>
/// <param name="ProtocolReject">Those of <paramref name="Mailboxes"/> whose active Sieve script may <c>ereject</c> (RFC 5429),
/// as the domain knows it: the intake asks their scripts before answering DATA, and only theirs.</param>
/// <param name="Charged">One recipient was taken from the sender's hourly budgets (account and domain) for this address: the
/// caller gives it back (<see cref="RcptPolicy.GiveBackAsync"/>) if the message is not sent after all.</param>
public sealed record RcptVerdict(SmtpReply Reply, string Address, IReadOnlyList<string> Mailboxes, IReadOnlyList<string> External, long? MaxMessageBytes,
    string? List = null, IReadOnlyList<string>? ProtocolReject = null, bool Charged = false)
{
    public bool Accepted => Reply.Code == 250;

    /// <summary>No such user here (550 5.1.1): what address harvesting collects, and what the tarpit counts.</summary>
    public bool UnknownRecipient => Reply.Enhanced == "5.1.1";

    public static RcptVerdict Refused(int code, string enhanced, string text, string address) =>
        new(new SmtpReply(code, enhanced, text), address, [], [], null);
}

/// <summary>
/// Every check of a recipient at RCPT, in one place: hosted or relay, known, enabled, within quota
/// and size, and for mail that leaves, the sender's hourly budgets. The session only calls
/// <see cref="CheckAsync"/>; what happens inside may become a single grain call.
/// </summary>
/// <remarks>
/// The budgets are taken here, at RCPT, one recipient at a time, and given back by the caller for a message refused later
/// (at DATA: the message text, the loop check, From:, the intake's virus or policy refusal; the rest of EmailSubmission/set)
/// or abandoned (RSET, a new EHLO, the connection gone): a client that retries a refused message does not lock itself
/// out. Taking first and giving back keeps the limit exact under concurrency: the take is one grain turn on one
/// activation for the account wherever the session runs, so what is in flight is always counted (see
/// <see cref="GrainMail.Contracts.Outbound.ISendRateGrain.Release"/>).
/// </remarks>
internal sealed class RcptPolicy(IGrainFactory grains, SmtpOptions options, ILogger? log = null)
{
    public async Task<RcptVerdict> CheckAsync(RcptCheck check)
    {
        // The bare <Postmaster> (RFC 5321 4.5.1) goes to the node's postmaster.
        var address = check.Address.Equals(RecipientPolicy.Postmaster, StringComparison.OrdinalIgnoreCase)
            ? MailAddress.Normalize(options.Postmaster) ?? MailAddress.Normalize($"{RecipientPolicy.Postmaster}@{options.HostName}")
            : MailAddress.Normalize(check.Address);
        if (address is null) return RcptVerdict.Refused(501, "5.1.3", "Bad recipient address syntax", check.Address);

        // One call answers hosted?, who?, enabled?, room? and how large? (the recipient policy).
        var r = await RecipientPolicy.ResolveAsync(grains, address, check.DeclaredSize ?? 0);

        // The directory's "may send outside the domain": checked for the authenticated account,
        // before any budget is spent (a refusal is permanent, RFC 3463 5.7.1: delivery not authorized).
        if (check.User is not null && MailAddress.Normalize(check.User) is { } user && MailAddress.DomainOf(address) != MailAddress.DomainOf(user))
        {
            var policy = await grains.GetGrain<IDomainGrain>(MailAddress.DomainOf(user)).GetAccountPolicy(MailAddress.LocalPartOf(user));
            if (policy is { MaySendExternal: false })
                return RcptVerdict.Refused(550, "5.7.1", "This account may not send mail outside its domain", address);
        }
        if (!r.Hosted)
        {
            // RFC 5321 3.6.2: a relay request the server will not accept gets 550.
            if (check.Service == SmtpService.Mx || check.User is null) return RcptVerdict.Refused(550, "5.7.1", "Relaying denied", address);
            // The sender's hourly budgets (account, then domain): a temporary refusal, so a
            // legitimate client retries later and a hijacked account cannot flood the world.
            if (!await grains.GetGrain<ISendRateGrain>(AccountBudget(check.User)).TryAcquire(1))
                return RcptVerdict.Refused(450, "4.7.1", "Sending rate limit of this account reached, try again later", address);
            if (!await grains.GetGrain<ISendRateGrain>(DomainBudget(check.User)).TryAcquire(1))
            {
                // The account's recipient was taken for a recipient refused after all.
                await ReleaseAsync(AccountBudget(check.User), 1);
                return RcptVerdict.Refused(450, "4.7.1", "Sending rate limit of this domain reached, try again later", address);
            }
            // Authenticated submission: committed to the outbound stream of the destination domain.
            // Only the destination may interpret its local parts (RFC 5321 2.4): they leave with
            // the case the sender wrote; the domain is the normalised one.
            var outward = check.Address[..check.Address.LastIndexOf('@')] + "@" + MailAddress.DomainOf(address);
            return new RcptVerdict(Ok, outward, [], [outward], null, Charged: true);
        }
        return r.Status switch
        {
            RecipientStatus.NoSuchUser => RcptVerdict.Refused(550, "5.1.1", "No such user here", address),
            RecipientStatus.Disabled => RcptVerdict.Refused(550, "5.2.1", "Mailbox disabled", address),
            RecipientStatus.MailboxFull => RcptVerdict.Refused(452, "4.2.2", "Mailbox full", address),
            RecipientStatus.TooLarge => RcptVerdict.Refused(552, "5.3.4", $"Message size exceeds the limit of {r.MaxMessageBytes} bytes for this recipient", address),
            RecipientStatus.ForwardingRefused => RcptVerdict.Refused(550, "5.7.1", "This address forwards outside the domain, which the domain's policy does not allow", address),
            _ when r.List is { } list => await ListAsync(check, address, list, r),
            // An alias that forwards outside: its external targets leave through the outbound stream.
            _ => InboundFromOutside(check) is { } senderDomain && r.InternalOnly is { Count: > 0 } internalOnly
                ? WithoutInternalOnly(r, address, senderDomain, internalOnly)
                : new RcptVerdict(Ok, address, r.Mailboxes, r.External, r.MaxMessageBytes, ProtocolReject: r.ProtocolReject),
        };
    }

    /// <summary>For mail from another server (no authenticated user): the sender's domain ("" for the null path).</summary>
    private static string? InboundFromOutside(RcptCheck check) =>
        check.User is not null ? null : check.Sender is { } s && s.LastIndexOf('@') is > 0 and var at ? s[(at + 1)..].ToLowerInvariant() : "";

    /// <summary>
    /// The directory's "may receive from outside": accounts that take mail only from their own
    /// domain drop out of the recipient's mailboxes; when nothing is left, 550 5.7.1.
    /// </summary>
    private static RcptVerdict WithoutInternalOnly(RecipientVerdict r, string address, string senderDomain, IReadOnlyList<string> internalOnly)
    {
        var mailboxes = r.Mailboxes.Where(m => !internalOnly.Contains(m) || MailAddress.DomainOf(m) == senderDomain).ToList();
        if (mailboxes.Count + r.External.Count == 0)
            return RcptVerdict.Refused(550, "5.7.1", "This recipient accepts mail only from its own domain", address);
        return new RcptVerdict(Ok, address, mailboxes, r.External, r.MaxMessageBytes, ProtocolReject: r.ProtocolReject);
    }

    /// <summary>A mailing list decides who may post (admin backend 4.2.8); a sender outside its policy hears 550 5.7.1 here, at RCPT.</summary>
    /// <remarks>
    /// An alias may name a list beside other targets (issue 15): those keep their own rules (an
    /// internal-only account drops out for senders of other domains), and the list's refusal
    /// refuses the address, since the sender asked for all of it.
    /// </remarks>
    private async Task<RcptVerdict> ListAsync(RcptCheck check, string address, string list, RecipientVerdict r)
    {
        var max = r.MaxMessageBytes;
        var mailboxes = InboundFromOutside(check) is { } senderDomain && r.InternalOnly is { Count: > 0 } internalOnly
            ? r.Mailboxes.Where(m => !internalOnly.Contains(m) || MailAddress.DomainOf(m) == senderDomain).ToList()
            : r.Mailboxes;
        var (listAddress, command) = ListStreams.Split(list);
        var attempt = new PostAttempt(MailAddress.Normalize(check.Sender), check.User, check.Service == SmtpService.Mx, command);
        return await grains.GetGrain<IMailingListGrain>(listAddress).MayPost(attempt) switch
        {
            PostVerdict.Allowed => new RcptVerdict(Ok, address, mailboxes, r.External, max, list),
            PostVerdict.NoSuchList => RcptVerdict.Refused(550, "5.1.1", "No such user here", address),
            _ => RcptVerdict.Refused(550, "5.7.1", command is null ? "Not allowed to post to this list" : "Only a moderator of this list may send this", address),
        };
    }

    private static readonly SmtpReply Ok = new(250, "2.1.5", "Recipient OK");

    private static string AccountBudget(string user) => "account/" + user;

    private static string DomainBudget(string user) => "domain/" + MailAddress.DomainOf(user);

    /// <summary>
    /// Gives back to <paramref name="user"/>'s budgets the <paramref name="recipients"/> that accepted RCPTs (<see cref="RcptVerdict.Charged"/>)
    /// took for a message that was not sent. Only for a definite "not sent": a commit whose outcome is unknown keeps them.
    /// </summary>
    public async Task GiveBackAsync(string user, int recipients)
    {
        if (recipients <= 0) return;
        await ReleaseAsync(AccountBudget(user), recipients);
        await ReleaseAsync(DomainBudget(user), recipients);
    }

    private async Task ReleaseAsync(string budget, int recipients)
    {
        try
        {
            await grains.GetGrain<ISendRateGrain>(budget).Release(recipients);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The recipients stay spent, as they were before anything was given back: the strict side. The refusal the
            // client is waiting for matters more than the budget.
            log?.LogWarning(e, "Could not give back {Recipients} recipients to the send budget {Budget}", recipients, budget);
        }
    }
}
