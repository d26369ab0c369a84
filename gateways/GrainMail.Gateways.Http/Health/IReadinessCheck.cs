namespace GrainMail.Gateways.Http;

/// <summary>What /readyz asks: is this process part of a working cluster?</summary>
public interface IReadinessCheck
{
    Task<(bool Ready, string Detail)> CheckAsync(CancellationToken ct);
}
