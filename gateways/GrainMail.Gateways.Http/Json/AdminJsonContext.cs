using System.Text.Json;
using System.Text.Json.Serialization;
using GrainMail.Gateways.Http.Accounts;
using GrainMail.Gateways.Http.Aliases;
using GrainMail.Gateways.Http.AppPasswords;
using GrainMail.Gateways.Http.DirectoryAliases;
using GrainMail.Gateways.Http.Dns;
using GrainMail.Gateways.Http.Domains;
using GrainMail.Gateways.Http.Mailbox;
using GrainMail.Gateways.Http.Messages;
using GrainMail.Gateways.Http.Organization;
using GrainMail.Gateways.Http.Outbound;
using GrainMail.Gateways.Http.Placement;
using GrainMail.Gateways.Http.SentLog;
using GrainMail.Gateways.Http.Roles;
using GrainMail.Gateways.Http.Sessions;
using GrainMail.Gateways.Http.Integrations;

namespace GrainMail.Gateways.Http.Json;

/// <summary>Source-generated (de)serialisers for every body the admin API reads or writes (camelCase, web defaults).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(CreateDomainRequest))]
[JsonSerializable(typeof(DomainResponse))]
[JsonSerializable(typeof(IReadOnlyList<DomainSummary>))]
[JsonSerializable(typeof(CreateAccountRequest))]
[JsonSerializable(typeof(PasswordRequest))]
[JsonSerializable(typeof(EnabledRequest))]
[JsonSerializable(typeof(AccountResponse))]
[JsonSerializable(typeof(List<AccountResponse>))]
[JsonSerializable(typeof(AliasRequest))]
[JsonSerializable(typeof(AliasResponse))]
[JsonSerializable(typeof(List<AliasResponse>))]
[JsonSerializable(typeof(AppPasswordRequest))]
[JsonSerializable(typeof(AppPasswordCreated))]
[JsonSerializable(typeof(MailboxResponse))]
[JsonSerializable(typeof(SubmitRequest))]
[JsonSerializable(typeof(SubmitResponse))]
[JsonSerializable(typeof(List<DnsRecordResponse>))]
[JsonSerializable(typeof(DnsCheckResponse))]
[JsonSerializable(typeof(List<OutboundDestinationResponse>))]
[JsonSerializable(typeof(List<LinkResponse>))]
[JsonSerializable(typeof(AccountPlacementResponse))]
[JsonSerializable(typeof(RoutePlacementResponse))]
[JsonSerializable(typeof(IReadOnlyList<SentAttemptResponse>))]
[JsonSerializable(typeof(CreateDepartmentRequest))]
[JsonSerializable(typeof(UpdateDepartmentRequest))]
[JsonSerializable(typeof(DepartmentResponse))]
[JsonSerializable(typeof(List<DepartmentResponse>))]
[JsonSerializable(typeof(AccountPatchRequest))]
[JsonSerializable(typeof(AccountPageResponse))]
[JsonSerializable(typeof(ImportReport))]
[JsonSerializable(typeof(List<ImportError>))]
[JsonSerializable(typeof(BulkRequest))]
[JsonSerializable(typeof(BulkResponse))]
[JsonSerializable(typeof(AccountAliasRequest))]
[JsonSerializable(typeof(AccountAliasResponse))]
[JsonSerializable(typeof(List<AccountAliasResponse>))]
[JsonSerializable(typeof(DomainAliasRequest))]
[JsonSerializable(typeof(DomainAliasResponse))]
[JsonSerializable(typeof(List<DomainAliasResponse>))]
[JsonSerializable(typeof(RenameDomainRequest))]
[JsonSerializable(typeof(RenameDomainResponse))]
[JsonSerializable(typeof(DomainSettingsPatch))]
[JsonSerializable(typeof(DomainSettingsResponse))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Trust.SpamPolicyBody))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.Trust.ReceiveLogLine>))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.Trust.QuarantineLine>))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(SessionCreated))]
[JsonSerializable(typeof(SessionResponse))]
[JsonSerializable(typeof(RoleRequest))]
[JsonSerializable(typeof(RoleResponse))]
[JsonSerializable(typeof(List<RoleResponse>))]
[JsonSerializable(typeof(IntegrationRequest))]
[JsonSerializable(typeof(IntegrationResponse))]
[JsonSerializable(typeof(List<IntegrationResponse>))]
[JsonSerializable(typeof(UnreadResponse))]
[JsonSerializable(typeof(SsoRequest))]
[JsonSerializable(typeof(SsoResponse))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Lists.CreateListRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Lists.UpdateListRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Lists.ListResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.Lists.ListResponse>))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Lists.ListMemberRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Lists.ListMemberResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.Lists.ListMemberResponse>))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.Lists.HeldPostResponse>))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.ContactRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.ContactResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.ContactResponse>))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.RuleRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.RuleResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.RuleResponse>))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.AddressBookEntryResponse>))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.Trust.VirusPolicyBody))]
public sealed partial class AdminJsonContext : JsonSerializerContext;
