using System.ComponentModel.DataAnnotations;

namespace GrainMail.Grains.Admin;

/// <summary>How long admin and user sessions and single sign-on tickets live (section GrainMail:AdminSessions).</summary>
public sealed class AdminSessionOptions
{
    public const string Section = "GrainMail:AdminSessions";

    /// <summary>A session unused this long ends (an administrator who walked away).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Every session ends this long after login, however busy: a stolen token is bounded.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan AbsoluteLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>A single sign-on ticket must be redeemed within this time.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan SsoTicketLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Last use is written at most this often per session, not on every request.</summary>
    public static readonly TimeSpan TouchEvery = TimeSpan.FromSeconds(30);
}
