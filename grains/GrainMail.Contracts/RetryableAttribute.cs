namespace GrainMail.Contracts;

/// <summary>
/// A grain method that may be called again when the silo running it died mid-call: it only
/// reads, or sets something to a value (not "add one"), so a second run changes nothing more.
/// Gateways retry these across a silo failure; other calls report a temporary error instead.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RetryableAttribute : Attribute;
