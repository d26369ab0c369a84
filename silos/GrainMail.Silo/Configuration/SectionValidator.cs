using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace GrainMail.Silo.Configuration;

/// <summary>
/// Validates a settings class by its DataAnnotations (ranges, required values) and its own
/// <see cref="IValidatableObject"/> checks, and says what is wrong in terms an operator can act
/// on: the configuration key, the value, the rule, and the other names that set it
/// (<c>GrainMail:Smtp:MaxConnectionsPerIp = -1: must be between 1 and 2147483647
/// (GrainMail__Smtp__MaxConnectionsPerIp, GrainMail__SmtpMaxConnectionsPerIp)</c>).
/// </summary>
public sealed class SectionValidator<T>(string section) : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
            return ValidateOptionsResult.Success;
        return ValidateOptionsResult.Fail(results.Select(r => Describe(options, r)));
    }

    private string Describe(T options, ValidationResult result)
    {
        var member = result.MemberNames.FirstOrDefault();
        var key = member is null ? section : $"{section}:{member}";
        var value = member is null ? null : typeof(T).GetProperty(member)?.GetValue(options);
        // Numbers and durations are shown; text may be a secret (a password, a key).
        var shown = value is int or long or double or TimeSpan ? $" = {value}" : "";
        var rule = result.ErrorMessage ?? "is not valid";
        if (member is not null && rule.StartsWith($"The field {member} ", StringComparison.Ordinal)) rule = rule[$"The field {member} ".Length..];
        if (member is not null && rule == $"The {member} field is required.") rule = "is required";
        return $"{key}{shown}: {rule.TrimEnd('.')} ({ConfigurationKeys.OtherNames(key)})";
    }
}
