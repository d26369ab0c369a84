using GrainMail.Gateways.Imap.Search;

namespace GrainMail.Protocol.Tests;

/// <summary>The gateway-wide bound on SEARCHes that read message bytes.</summary>
public sealed class SearchBudgetTests
{
    [Fact]
    public async Task Searches_beyond_the_slots_wait_until_one_ends()
    {
        var budget = new SearchBudget(maxConcurrent: 2, maxBytesPerSearch: 1000);
        var first = await budget.EnterAsync(CancellationToken.None);
        var second = await budget.EnterAsync(CancellationToken.None);
        var third = budget.EnterAsync(CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal(2, budget.Running);
        first.Dispose();
        first.Dispose(); // a second dispose gives back nothing more
        using (await third.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken))
        {
            Assert.Equal(2, budget.Running);
        }
        second.Dispose();
        Assert.Equal(0, budget.Running);
    }

    [Fact]
    public async Task A_waiting_search_of_a_closed_connection_gives_up()
    {
        var budget = new SearchBudget(1, 1000);
        using var held = await budget.EnterAsync(CancellationToken.None);
        using var closed = new CancellationTokenSource();
        var waiting = budget.EnterAsync(closed.Token);
        await closed.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(1, budget.Running);
    }

    [Fact]
    public async Task One_search_may_read_up_to_its_byte_cap()
    {
        var budget = new SearchBudget(1, 1000);
        using var lease = await budget.EnterAsync(CancellationToken.None);
        lease.Charge(600);
        lease.Charge(400);
        var e = Assert.Throws<SearchLimitException>(() => lease.Charge(1));
        Assert.Equal(1000, e.Limit);
        Assert.Equal(1000, lease.BytesRead);
    }
}
