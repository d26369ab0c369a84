// What the user waits for when opening a message, measured in the page (issue 18, docs/benchmarks.md
// "session 9"): from the input event that opened it (its timeStamp: the click on a row, or the key)
// to the first paint after the message's body went into the reading frame. Kept in the browser's
// performance timeline, where tests/bench read it:
//   mark    grainmail.open-start     the click's / key's time, detail {via}
//   mark    grainmail.message-shown  the paint after the body went in, detail {emailId}
//   measure grainmail.open           the two above, detail {emailId, via}

let pending: { start: number; via: string } | null = null;

export function openStarted(start: number, via: 'click' | 'key') {
  // An event time outside this page's clock (never seen, but a throw here would stop the opening itself) counts from now.
  const at = start > 0 && start <= performance.now() ? start : performance.now();
  pending = { start: at, via };
  try {
    performance.mark('grainmail.open-start', { startTime: at, detail: { via } });
  } catch {
    /* the measure below still has its start */
  }
}

/** Called when a message's body is in the frame: marks the next paint (a frame after it, then the task after that paint). */
export function bodyInFrame(emailId: string) {
  requestAnimationFrame(() => setTimeout(() => {
    const end = performance.now();
    performance.mark('grainmail.message-shown', { startTime: end, detail: { emailId } });
    const p = pending;
    pending = null;
    if (p) performance.measure('grainmail.open', { start: p.start, end, detail: { emailId, via: p.via } });
  }, 0));
}
