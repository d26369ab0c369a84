using GrainMail.Contracts;
using GrainMail.Contracts.Domains;
using GrainMail.Grains.Forwarding;
using GrainMail.Outbound.Forwarding;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GrainMail.Grains.Domains;

public sealed partial class DomainGrain
{
    /// <summary>
    /// A bounce (or reply) to an SRS address we handed out as the envelope sender of forwarded mail:
    /// accepted and sent on to the address it stands for; a forged or expired one is no such user.
    /// Null when the local part is not an SRS address.
    /// </summary>
    private async Task<RecipientVerdict?> SrsVerdictAsync(string lp, long max)
    {
        if (!lp.StartsWith("srs0=", StringComparison.Ordinal) && !lp.StartsWith("srs1=", StringComparison.Ordinal)
            && !lp.StartsWith("srsk=", StringComparison.Ordinal)) return null;
        var reversal = await ServiceProvider.GetRequiredService<ForwardedMail>().ReverseAsync(lp);
        if (reversal.Status == SrsStatus.Valid && MailAddress.Normalize(reversal.Original) is { } original)
            return new RecipientVerdict(RecipientStatus.Accepted, [], [original], max);
        ServiceProvider.GetRequiredService<ILogger<DomainGrain>>().LogInformation("SRS address {Address}@{Domain} refused: {Status}", lp, Name, reversal.Status);
        return new RecipientVerdict(RecipientStatus.NoSuchUser, [], [], max);
    }
}
