using GrainMail.Tests.Infrastructure;
using Microsoft.Playwright;

namespace GrainMail.Tests;

/// <summary>New mail by push (RFC 8620 7.3 EventSource) in the open webmail, without a reload.</summary>
public sealed partial class WebmailTests
{
    [Fact]
    public async Task A_message_delivered_by_smtp_appears_in_the_open_list_without_reload()
    {
        var domain = await f.NewDomain();
        var alice = await f.NewAccount(domain, "alice", "Alice Zhang");
        await f.RequireJmap(alice);
        var page = await f.NewPage();
        // The server subscribes before it answers: once the page has the event source's response
        // headers, a delivery reaches it. The list is loaded (and empty) before the mail is sent.
        var stream = page.WaitForResponseAsync(r => r.Url.Contains("/jmap/eventsource", StringComparison.Ordinal) && r.Status == 200);
        await WebmailHostFixture.LogIn(page, alice);
        await Assertions.Expect(page.GetByTestId("account")).ToHaveTextAsync(alice);
        await stream;
        await Assertions.Expect(page.GetByTestId("mailbox-inbox")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("row")).ToHaveCountAsync(0);
        var loads = 0;
        page.FrameNavigated += (_, frame) => { if (frame == page.MainFrame) loads++; };

        var subject = $"Pushed {Guid.NewGuid():N}"[..20];
        await TestMail.SendToMxAsync(f.Host.Listening.Mx, alice, subject, "arrived while the page was open");
        // Well within the 60 s fallback poll: only a push brings it this fast.
        var row = page.GetByTestId("row").Filter(new() { HasText = subject });
        await Assertions.Expect(row).ToBeVisibleAsync(new() { Timeout = 20_000 });
        await Assertions.Expect(page.GetByTestId("toast").Filter(new() { HasText = "New mail arrived" })).ToBeVisibleAsync(new() { Timeout = 10_000 });
        Assert.Equal(0, loads);
        await WebmailHostFixture.Screenshot(page, "push-new-mail");
        await page.Context.CloseAsync();
    }
}
