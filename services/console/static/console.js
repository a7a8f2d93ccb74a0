// Docket console: times in the reader's time zone (UTC on hover), deadline countdowns,
// and a page that waits for a just-recorded decision to reach the history. No inline
// script anywhere (the Content-Security-Policy forbids it).

const utc = (date) => date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

function countdown(due, now) {
  let seconds = Math.trunc((due - now) / 1000);
  const late = seconds < 0;
  seconds = Math.abs(seconds);
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  let text;
  if (days) text = days < 10 ? `${days} d ${hours} h` : `${days} d`;
  else if (hours) text = `${hours} h ${minutes} min`;
  else text = `${minutes} min`;
  return late ? `overdue by ${text}` : `in ${text}`;
}

function localise() {
  for (const element of document.querySelectorAll("time[data-local]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    element.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    element.title = utc(date);
  }
  const now = Date.now();
  for (const element of document.querySelectorAll("time[data-countdown]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    element.textContent = countdown(date, now);
    element.title = utc(date);
  }
}

function awaitRecorded() {
  const waiting = document.querySelector("[data-awaiting-event]");
  if (!waiting) return;
  const url = new URL(window.location.href);
  const tries = Number(url.searchParams.get("tries") || "0");
  if (tries >= 20) {
    waiting.textContent = "Recorded; the history has not shown it yet. Reload in a moment.";
    return;
  }
  url.searchParams.set("tries", String(tries + 1));
  setTimeout(() => window.location.replace(url.toString()), 1000);
}

localise();
setInterval(localise, 60000);
awaitRecorded();
