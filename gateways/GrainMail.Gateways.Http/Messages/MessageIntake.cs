using GrainMail.Contracts.Domains;
using GrainMail.Storage.Delivery;

namespace GrainMail.Gateways.Http.Messages;

/// <summary>
/// What POST /messages needs from the cluster: who a recipient is, and the durable submit. Kept
/// behind this class so that the storage call can become a grain call without touching the endpoint.
/// </summary>
public sealed class MessageIntake(IGrainFactory grains, MessageSubmitter submitter)
{
    public Task<ResolvedRecipient> ResolveAsync(string recipient) => new RecipientResolver(grains).ResolveAsync(recipient);

    public Task<SubmitReceipt> SubmitAsync(Submission submission, CancellationToken ct) => submitter.SubmitAsync(submission, ct);
}
