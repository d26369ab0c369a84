namespace GrainMail.Contracts.Regions;

/// <summary>Where a grain activation runs: the silo and its region (operators' view, drills).</summary>
[GenerateSerializer, Immutable]
public sealed record GrainLocation([property: Id(0)] string Silo, [property: Id(1)] string? Region);

/// <summary>A grain that lives in a home region and can say where it runs now.</summary>
public interface ILocatableGrain : IGrainWithStringKey
{
    [Retryable]
    Task<GrainLocation> Locate();
}
