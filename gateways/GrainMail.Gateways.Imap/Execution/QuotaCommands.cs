using GrainMail.Gateways.Imap.Commands;

namespace GrainMail.Gateways.Imap.Execution;

/// <summary>
/// QUOTA (RFC 9208): one quota root, "", per account, with STORAGE in KiB. SETQUOTA is refused:
/// quotas are the administrator's.
/// </summary>
internal sealed class QuotaCommands(ImapSessionContext session)
{
    public async Task<bool> GetQuotaRootAsync(GetQuotaRootCommand c)
    {
        if (await session.Mailbox.GetFolder(c.Mailbox) is null) return session.No(c.Tag, "[NONEXISTENT] No such mailbox");
        session.Out.Raw("* QUOTAROOT ").AString(session.EncodeName(c.Mailbox)).Line(" \"\"");
        await WriteQuotaAsync();
        return session.Ok(c.Tag, "GETQUOTAROOT completed");
    }

    public async Task<bool> GetQuotaAsync(GetQuotaCommand c)
    {
        if (c.Root.Length != 0) return session.No(c.Tag, "[NONEXISTENT] No such quota root");
        await WriteQuotaAsync();
        return session.Ok(c.Tag, "GETQUOTA completed");
    }

    public bool SetQuota(SetQuotaCommand c) => session.No(c.Tag, "Quotas are set by the administrator");

    private async Task WriteQuotaAsync()
    {
        var q = await session.Mailbox.GetQuota();
        session.Out.Raw("* QUOTA \"\" (STORAGE ").Number((q.UsedBytes + 1023) / 1024).Raw(" ").Number(q.LimitBytes / 1024).Line(")");
    }
}
