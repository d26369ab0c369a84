using GrainMail.Gateways.Http.Audit;

namespace GrainMail.Protocol.Tests;

/// <summary>The audit log's action names, derived from the route: what auditors search by, so they must not drift.</summary>
public sealed class AuditActionNameTests
{
    [Theory]
    [InlineData("POST", "/api/v1/domains", "domain.create")]
    [InlineData("DELETE", "/api/v1/domains/{domain}", "domain.delete")]
    [InlineData("PATCH", "/api/v1/domains/{domain}", "domain.update")]
    [InlineData("POST", "/api/v1/domains/{domain}/rename", "domain.rename")]
    [InlineData("POST", "/api/v1/domains/{domain}/accounts", "account.create")]
    [InlineData("PATCH", "/api/v1/accounts/{address}", "account.update")]
    [InlineData("DELETE", "/api/v1/accounts/{address}", "account.delete")]
    [InlineData("PUT", "/api/v1/accounts/{address}/password", "account.password.set")]
    [InlineData("PUT", "/api/v1/accounts/{address}/enabled", "account.enabled.set")]
    [InlineData("POST", "/api/v1/domains/{domain}/aliases", "alias.create")]
    [InlineData("DELETE", "/api/v1/domains/{domain}/domain-aliases/{name}", "domain-alias.delete")]
    [InlineData("POST", "/api/v1/accounts/{address}/app-passwords", "app-password.create")]
    [InlineData("PATCH", "/api/v1/domains/{domain}/departments/{departmentId}", "department.update")]
    [InlineData("POST", "/api/v1/domains/{domain}/dkim/rotate", "dkim.rotate")]
    [InlineData("POST", "/api/v1/quarantine/{id}/release", "quarantine.release")]
    [InlineData("DELETE", "/api/v1/quarantine/{id}", "quarantine.delete")]
    [InlineData("PUT", "/api/v1/domains/{domain}/settings", "domain.settings.set")]
    [InlineData("POST", "/api/v1/domains/{domain}/address-book/rules", "rule.create")]
    [InlineData("POST", "/api/v1/domains/{domain}/lists/{list}/members", "member.create")]
    [InlineData("POST", "/api/v1/domains/{domain}/messages/purge", "message.purge")]
    [InlineData("POST", "/api/v1/roles", "role.create")]
    [InlineData("DELETE", "/api/v1/sessions/current", "session.current.delete")]
    [InlineData("POST", "/api/v1/integration/sso", "integration.sso")]
    [InlineData("POST", "/api/v1/policies", "policy.create")]
    [InlineData("post", "/api/v1/domains/{domain}/import", "domain.import")]
    public void Names_come_from_the_method_and_the_route(string method, string route, string action) =>
        Assert.Equal(action, AuditActionNames.Of(method, route));
}
