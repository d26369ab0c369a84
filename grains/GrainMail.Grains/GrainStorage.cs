namespace GrainMail.Grains;

/// <summary>Names of the grain storage providers the silo configures.</summary>
public static class GrainStorage
{
    /// <summary>ADO.NET grain storage on PostgreSQL, for small grain state (domains, accounts).</summary>
    public const string Name = "grainmail";
}
