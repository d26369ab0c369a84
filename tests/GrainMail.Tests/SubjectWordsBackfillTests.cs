using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GrainMail.Tests.Infrastructure;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace GrainMail.Tests;

/// <summary>A host whose subject-word backfill starts at once and looks for work every second.</summary>
public sealed class SubjectWordsHostFixture : SmtpHostFixture
{
    protected override IReadOnlyDictionary<string, string>? Environment => new Dictionary<string, string>
    {
        ["GrainMail__SubjectWords__StartDelaySeconds"] = "1",
        ["GrainMail__SubjectWords__IdleSeconds"] = "1",
        ["GrainMail__SubjectWords__Batch"] = "2",
    };
}

/// <summary>
/// Rows of message_index from before subject word tokens (migration 0033) get theirs from the
/// background job, without any search; and subject words are NFKC-folded by GrainMail's own tables
/// (fullwidth letters are found by their plain spelling).
/// </summary>
public sealed class SubjectWordsBackfillTests(SubjectWordsHostFixture host) : IClassFixture<SubjectWordsHostFixture>
{
    private const string D = SmtpHostFixture.Domain;

    [Fact]
    public async Task Old_rows_get_their_word_tokens_without_a_search_and_are_then_found()
    {
        var tag = Guid.NewGuid().ToString("N")[..10];
        var ids = Enumerable.Range(0, 5).Select(i => $"{tag}.{i}@example.test").ToArray();
        using (var smtp = new MailKit.Net.Smtp.SmtpClient())
        {
            await smtp.ConnectAsync("127.0.0.1", host.Mx, SecureSocketOptions.None);
            foreach (var (id, i) in ids.Select((id, i) => (id, i)))
            {
                // Fullwidth "ＱＵＡＲＴＥＲＬＹ": NFKC makes it "quarterly" once lower-cased.
                var m = TestMail.Text("x@far.example", "alice@" + D, $"ＱＵＡＲＴＥＲＬＹ report {tag} part{i}", "numbers");
                m.MessageId = id;
                await smtp.SendAsync(m);
            }
            await smtp.DisconnectAsync(true);
        }
        await using var db = NpgsqlDataSource.Create(host.ConnectionString);
        async Task<long> Count(string condition)
        {
            await using var cmd = db.CreateCommand($"SELECT count(*) FROM message_index WHERE message_id = ANY(@ids) AND {condition}");
            cmd.Parameters.AddWithValue("ids", ids);
            return (long)(await cmd.ExecuteScalarAsync())!;
        }
        await Eventually.Until(async () => await Count("true") == ids.Length, TimeSpan.FromSeconds(30), "the index rows");

        // As they were before migration 0033: no tokens. The job (batches of 2 here) gives them back, no search asked.
        await using (var forget = db.CreateCommand("UPDATE message_index SET subject_words = NULL WHERE message_id = ANY(@ids)"))
        {
            forget.Parameters.AddWithValue("ids", ids);
            Assert.Equal(ids.Length, await forget.ExecuteNonQueryAsync());
        }
        await Eventually.Until(async () => await Count("subject_words IS NULL") == 0, TimeSpan.FromSeconds(60), "the backfill of 5 rows");
        Assert.Equal(ids.Length, await Count("cardinality(subject_words) >= 4"));

        var r = await host.Host.Http.GetAsync($"/api/v1/domains/{D}/messages?subject={Uri.EscapeDataString("quarterly " + tag)}");
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
        Assert.Equal(ids.Length, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength());
    }
}
