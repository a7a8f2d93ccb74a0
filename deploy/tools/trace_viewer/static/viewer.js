// Docket's trace viewer: Jaeger's query API (/api/...) read with plain DOM APIs.
// Every value from a trace is put on the page as text (textContent, append of strings),
// never as markup.
"use strict";

(function () {
  const base = new URL(document.baseURI);
  const main = document.getElementById("main");

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function show(...nodes) {
    main.replaceChildren(...nodes);
  }

  function fail(message) {
    show(el("h1", {}, "Something went wrong"), el("p", { class: "problem", role: "alert" }, message),
      el("p", {}, el("a", { href: "./" }, "Back to the search")));
  }

  /** GET api/<path> relative to Jaeger's base path; null on 404. */
  async function api(path, params) {
    const url = new URL("api/" + path, base);
    for (const [name, value] of Object.entries(params || {})) url.searchParams.set(name, value);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`Jaeger answered ${response.status} for ${url.pathname}`);
    return response.json();
  }

  function duration(us) {
    if (us < 1000) return `${Math.round(us)} µs`;
    if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
    return `${(us / 1e6).toFixed(2)} s`;
  }

  /** Wall-clock time in UTC, as the services' logs write it. */
  function when(us) {
    return new Date(us / 1000).toISOString().replace("T", " ").slice(0, 23) + " UTC";
  }

  function tagsOf(span) {
    return new Map((span.tags || []).map((tag) => [tag.key, tag.value]));
  }

  function isError(tags) {
    const flag = tags.get("error");
    return flag === true || flag === "true" || tags.get("otel.status_code") === "ERROR";
  }

  /** A stable hue per service name, so one service keeps one colour. */
  function hue(name) {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }

  function serviceOf(trace, span) {
    const process = (trace.processes || {})[span.processID];
    return process ? process.serviceName : "unknown service";
  }

  /** Spans in tree order (each parent followed by its children by start), with depth. */
  function inTreeOrder(trace) {
    const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
    const children = new Map();
    const roots = [];
    for (const span of trace.spans) {
      const references = (span.references || []).filter((ref) => byId.has(ref.spanID));
      const parent = references.find((ref) => ref.refType === "CHILD_OF") || references[0];
      if (parent && parent.spanID !== span.spanID) {
        if (!children.has(parent.spanID)) children.set(parent.spanID, []);
        children.get(parent.spanID).push(span);
      } else {
        roots.push(span);
      }
    }
    const byStart = (a, b) => a.startTime - b.startTime;
    const rows = [];
    const seen = new Set();
    const visit = (span, depth, parentId) => {
      if (seen.has(span.spanID)) return;
      seen.add(span.spanID);
      rows.push({ span, depth, parentId });
      for (const child of (children.get(span.spanID) || []).sort(byStart)) {
        visit(child, depth + 1, span.spanID);
      }
    };
    roots.sort(byStart).forEach((root) => visit(root, 0, null));
    // A reference cycle leaves spans unreached: show them as roots rather than drop them.
    trace.spans.filter((span) => !seen.has(span.spanID)).sort(byStart)
      .forEach((span) => visit(span, 0, null));
    return rows;
  }

  function summary(trace) {
    const start = Math.min(...trace.spans.map((span) => span.startTime));
    const end = Math.max(...trace.spans.map((span) => span.startTime + span.duration));
    const services = new Set(trace.spans.map((span) => serviceOf(trace, span)));
    const errors = trace.spans.filter((span) => isError(tagsOf(span))).length;
    const roots = inTreeOrder(trace).filter((row) => row.depth === 0);
    const root = roots.length ? roots[0].span : trace.spans[0];
    return { start, end, total: Math.max(end - start, 1), services, errors, root };
  }

  function valueText(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function keyValues(caption, pairs) {
    if (!pairs.length) return null;
    return el("table", { class: "attributes" },
      el("caption", {}, caption),
      el("tbody", {}, ...pairs.map(([key, value]) =>
        el("tr", {}, el("th", { scope: "row" }, key), el("td", {}, valueText(value))))));
  }

  function details(trace, row, t0, id) {
    const { span } = row;
    const process = (trace.processes || {})[span.processID] || { tags: [] };
    const facts = [
      ["span id", span.spanID],
      ["parent span id", row.parentId || "none (root)"],
      ["starts", `+${duration(span.startTime - t0)} (${when(span.startTime)})`],
      ["duration", duration(span.duration)],
    ];
    const events = (span.logs || []).map((log) => el("li", {},
      `+${duration(log.timestamp - t0)} `,
      ...(log.fields || []).map((field) => el("span", { class: "field" },
        el("b", {}, field.key), " ", valueText(field.value)))));
    return el("div", { class: "details", id, hidden: true },
      keyValues("Span", facts),
      keyValues("Attributes", (span.tags || []).map((tag) => [tag.key, tag.value])),
      events.length ? el("section", {}, el("h3", {}, "Events"), el("ul", { class: "events" }, ...events)) : null,
      keyValues(`Resource (${serviceOf(trace, span)})`,
        (process.tags || []).map((tag) => [tag.key, tag.value])),
      (span.warnings || []).length
        ? el("ul", { class: "warnings" }, ...span.warnings.map((w) => el("li", {}, w))) : null);
  }

  function waterfallRow(trace, row, index, t0, total) {
    const { span, depth } = row;
    const tags = tagsOf(span);
    const error = isError(tags);
    const service = serviceOf(trace, span);
    const offset = span.startTime - t0;
    const detailsId = `span-${index}`;

    const bar = el("span", { class: "bar" });
    bar.style.left = `${(offset / total) * 100}%`;
    bar.style.width = `${Math.max((span.duration / total) * 100, 0.2)}%`;

    const name = el("span", { class: "name" },
      el("span", { class: "toggle", "aria-hidden": "true" }, "▸"),
      el("span", { class: "operation" }, span.operationName),
      error ? el("span", { class: "badge" }, "error") : null);
    name.style.paddingLeft = `${depth * 1.1}rem`;

    const button = el("button", {
      type: "button", class: "row", "aria-expanded": "false", "aria-controls": detailsId,
    },
      el("span", { class: "service" }, service),
      name,
      el("span", { class: "offset" }, el("span", { class: "sr" }, "starts at "), `+${duration(offset)}`),
      el("span", { class: "duration" }, el("span", { class: "sr" }, ", takes "), duration(span.duration)),
      el("span", { class: "track", "aria-hidden": "true" }, bar));
    button.style.setProperty("--hue", String(hue(service)));

    const panel = details(trace, row, t0, detailsId);
    button.addEventListener("click", () => {
      const open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      button.querySelector(".toggle").textContent = open ? "▾" : "▸";
      panel.hidden = !open;
    });
    return el("li", { class: error ? "span error" : "span", "data-depth": depth }, button, panel);
  }

  function expandAll(list, open) {
    for (const button of list.querySelectorAll("button.row")) {
      if ((button.getAttribute("aria-expanded") === "true") !== open) button.click();
    }
  }

  async function showTrace(traceId) {
    document.title = `Trace ${traceId} · Docket traces`;
    const answer = await api(`traces/${encodeURIComponent(traceId)}`);
    const trace = answer && (answer.data || [])[0];
    if (!trace || !(trace.spans || []).length) {
      show(el("h1", {}, "Trace not found"),
        el("p", { role: "alert" }, `Jaeger holds no span of trace ${traceId} (yet: spans arrive a moment after the request; Jaeger keeps them in memory only).`),
        el("p", {}, el("a", { href: "./" }, "Search traces")));
      return;
    }
    const facts = summary(trace);
    const rows = inTreeOrder(trace);
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((share) => {
      const tick = el("span", { class: "tick" }, duration(facts.total * share));
      tick.style.left = `${share * 100}%`;
      return tick;
    });
    const list = el("ol", { class: "waterfall", "aria-label": "Spans, in call order" },
      ...rows.map((row, index) => waterfallRow(trace, row, index, facts.start, facts.total)));
    const expand = el("button", { type: "button" }, "Expand all");
    const collapse = el("button", { type: "button" }, "Collapse all");
    expand.addEventListener("click", () => expandAll(list, true));
    collapse.addEventListener("click", () => expandAll(list, false));

    show(
      el("p", { class: "crumbs" }, el("a", { href: "./" }, "← Search traces")),
      el("h1", {}, `${serviceOf(trace, facts.root)}: ${facts.root.operationName}`),
      el("dl", { class: "facts" },
        el("dt", {}, "Trace id"), el("dd", {}, el("code", {}, trace.traceID)),
        el("dt", {}, "Started"), el("dd", {}, when(facts.start)),
        el("dt", {}, "Duration"), el("dd", {}, duration(facts.total)),
        el("dt", {}, "Spans"), el("dd", {}, String(trace.spans.length)),
        el("dt", {}, "Services"), el("dd", {}, [...facts.services].sort().join(", ")),
        el("dt", {}, "Errors"), el("dd", { class: facts.errors ? "has-errors" : null }, String(facts.errors))),
      el("div", { class: "tools" }, expand, collapse),
      el("div", { class: "header", "aria-hidden": "true" },
        el("span", {}, "Service"), el("span", {}, "Operation"), el("span", {}, "Start"),
        el("span", {}, "Duration"), el("span", { class: "ticks" }, ...ticks)),
      list);
    document.title = `${facts.root.operationName} · trace ${traceId} · Docket traces`;
  }

  function resultsTable(service, traces) {
    if (!traces.length) return el("p", {}, `No traces of ${service} in Jaeger.`);
    const rows = traces.map((trace) => ({ trace, facts: summary(trace) }))
      .sort((a, b) => b.facts.start - a.facts.start);
    return el("table", { class: "results" },
      el("caption", {}, `Recent traces of ${service}`),
      el("thead", {}, el("tr", {}, ...["Started", "Root", "Duration", "Spans", "Services", "Errors"]
        .map((heading) => el("th", { scope: "col" }, heading)))),
      el("tbody", {}, ...rows.map(({ trace, facts }) => el("tr", { class: facts.errors ? "error" : null },
        el("td", {}, when(facts.start)),
        el("td", {}, el("a", { href: `trace/${trace.traceID}` },
          `${serviceOf(trace, facts.root)}: ${facts.root.operationName}`)),
        el("td", { class: "number" }, duration(facts.total)),
        el("td", { class: "number" }, String(trace.spans.length)),
        el("td", {}, [...facts.services].sort().join(", ")),
        el("td", { class: "number" }, String(facts.errors))))));
  }

  async function showSearch(query) {
    const chosen = query.get("service") || "";
    const services = ((await api("services")) || {}).data || [];
    services.sort();
    const select = el("select", { id: "service", name: "service", required: true },
      el("option", { value: "" }, services.length ? "Choose a service" : "No services yet"),
      ...services.map((name) => el("option", { value: name, selected: name === chosen }, name)));
    const byService = el("form", { method: "get", action: "./", class: "search" },
      el("label", { for: "service" }, "Service"), select,
      el("button", { type: "submit" }, "Find recent traces"));

    const traceId = el("input", {
      id: "trace-id", name: "trace", autocomplete: "off", spellcheck: "false",
      pattern: "[0-9a-fA-F]{1,32}", title: "Up to 32 hexadecimal digits", size: "34", required: true,
    });
    const byId = el("form", { class: "search" },
      el("label", { for: "trace-id" }, "Trace id"), traceId,
      el("button", { type: "submit" }, "Open trace"));
    byId.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = traceId.value.trim().toLowerCase();
      if (/^[0-9a-f]{1,32}$/.test(id)) location.assign(new URL(`trace/${id}`, base));
    });

    const results = el("div", { class: "results-area", "aria-live": "polite" });
    show(el("h1", {}, "Find traces"), byService, byId, results);
    if (chosen) {
      results.replaceChildren(el("p", { role: "status" }, `Loading traces of ${chosen}…`));
      const answer = await api("traces", { service: chosen, limit: "20" });
      results.replaceChildren(resultsTable(chosen, (answer && answer.data) || []));
    }
  }

  async function route() {
    const path = location.pathname.startsWith(base.pathname)
      ? location.pathname.slice(base.pathname.length) : "";
    const trace = /^trace\/([0-9a-fA-F]{1,32})\/?$/.exec(path);
    try {
      if (trace) await showTrace(trace[1].toLowerCase());
      else await showSearch(new URLSearchParams(location.search));
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }

  route();
})();
