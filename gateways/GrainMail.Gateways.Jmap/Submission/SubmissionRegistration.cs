using GrainMail.Gateways.Jmap.Methods;
using Microsoft.Extensions.DependencyInjection;

namespace GrainMail.Gateways.Jmap.Submission;

public static class SubmissionRegistration
{
    /// <summary>EmailSubmission (RFC 8621 7) and VacationResponse (RFC 8621 8): two more families in the registry.</summary>
    public static IServiceCollection AddJmapSubmissionAndVacation(this IServiceCollection services)
    {
        services.AddSingleton<JmapSubmitter>();
        services.AddJmapMethods<EmailSubmissionMethods>();
        services.AddJmapMethods<Vacation.VacationMethods>();
        return services;
    }
}
