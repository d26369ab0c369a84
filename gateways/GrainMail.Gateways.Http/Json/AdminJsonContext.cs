using System.Text.Json;
using System.Text.Json.Serialization;
using GrainMail.Gateways.Http.Accounts;
using GrainMail.Gateways.Http.Aliases;
using GrainMail.Gateways.Http.AppPasswords;
using GrainMail.Gateways.Http.Dns;
using GrainMail.Gateways.Http.Domains;
using GrainMail.Gateways.Http.Mailbox;
using GrainMail.Gateways.Http.Messages;
using GrainMail.Gateways.Http.Outbound;
using GrainMail.Gateways.Http.Placement;
using GrainMail.Gateways.Http.SentLog;

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
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.ContactRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.ContactResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.ContactResponse>))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.RuleRequest))]
[JsonSerializable(typeof(GrainMail.Gateways.Http.AddressBook.RuleResponse))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.RuleResponse>))]
[JsonSerializable(typeof(List<GrainMail.Gateways.Http.AddressBook.AddressBookEntryResponse>))]
public sealed partial class AdminJsonContext : JsonSerializerContext;
