"use strict";
// The counter: finds a card, shows it, and works it through the terminal API, which holds
// every rule. Each operation gets its Idempotency-Key when the staff member confirms it and
// is written to this browser's storage (the outbox) before it is sent; it leaves the outbox
// only once the server has answered it. A lost connection (or a lost answer) leaves it there,
// shown as pending, and it is sent again with the same key when the connection returns, so the
// server records it exactly once.
document.addEventListener("DOMContentLoaded", () => {
  const OUTBOX = "loyalty.counter.outbox";
  const PROGRAM = "loyalty.counter.program";
  const RETRY_EVERY_MS = 5000;
  const RECENT = 10;
  const VOIDABLE = ["points_earned", "points_redeemed", "stamp_earned", "stamp_redeemed"];
  // Answers meant to be retried: the server kept nothing of the request.
  const RETRY_LATER = ["idempotency_key_in_progress", "rate_limited", "throttled", "busy"];
  const PIN_ERRORS = ["pin_invalid", "pin_locked", "permission_denied", "terminal_suspended"];

  const root = document.getElementById("counter");
  const language = root.dataset.language;
  const api = root.dataset.apiUrl;
  const $ = (id) => document.getElementById(id);
  const text = Terminal.text;

  let pairing = Terminal.pairing();
  let program = readJson(PROGRAM);
  let card = null;
  let flushing = false;

  // Formatting in the staff member's language (falling back where the browser lacks it).
  function formatter(options) {
    try {
      return new Intl.NumberFormat(language, options);
    } catch {
      return new Intl.NumberFormat("en", options);
    }
  }
  const numbers = formatter({});
  const signed = formatter({ signDisplay: "exceptZero" });
  const euros = formatter({ style: "currency", currency: "EUR" });
  let dates;
  try {
    dates = new Intl.DateTimeFormat(language, { dateStyle: "short", timeStyle: "short" });
  } catch {
    dates = new Intl.DateTimeFormat("en", { dateStyle: "short", timeStyle: "short" });
  }

  function readJson(name) {
    try {
      return JSON.parse(localStorage.getItem(name));
    } catch {
      return null;
    }
  }

  // --- Messages -------------------------------------------------------------------------

  function say(sentence) {
    $("alert").hidden = true;
    $("status").textContent = sentence;
    $("status").hidden = !sentence;
  }

  function warn(sentence) {
    $("status").hidden = true;
    $("alert").textContent = sentence;
    $("alert").hidden = !sentence;
  }

  function fieldError(input, errorId, sentence) {
    const error = $(errorId);
    error.textContent = sentence || "";
    error.hidden = !sentence;
    input.closest(".field").classList.toggle("field--error", Boolean(sentence));
    if (sentence) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } else {
      input.removeAttribute("aria-invalid");
    }
    return !sentence;
  }

  // --- The API --------------------------------------------------------------------------

  // Rejects (TypeError) only when no answer arrived: offline, or the connection dropped.
  async function call(method, path, body, idempotencyKey) {
    const headers = { Authorization: `Api-Key ${pairing.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const response = await fetch(api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "1", 10) || 1;
    return { status: response.status, data, retryAfter };
  }

  function code(answer) {
    return answer.data && typeof answer.data.code === "string" ? answer.data.code : "";
  }

  function sentence(answer) {
    return Terminal.errorSentence(answer.status, answer.data, answer.retryAfter);
  }

  // --- The outbox -----------------------------------------------------------------------

  function outbox() {
    const items = readJson(OUTBOX);
    return Array.isArray(items) ? items : [];
  }

  function saveOutbox(items) {
    localStorage.setItem(OUTBOX, JSON.stringify(items));
    showPending();
  }

  function updateEntry(entry) {
    saveOutbox(outbox().map((item) => (item.key === entry.key ? entry : item)));
  }

  function removeEntry(entry) {
    saveOutbox(outbox().filter((item) => item.key !== entry.key));
  }

  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Lists what is waiting: operations that went unanswered or were told to come back later
  // (not one being sent for the first time).
  function showPending() {
    const items = outbox().filter((item) => item.pending);
    const list = $("pending-list");
    list.replaceChildren(
      ...items.map((item) => {
        const line = document.createElement("li");
        const wait = item.retryAt && item.retryAt > Date.now()
          ? `, ${text("pending_retry_at", { seconds: Math.ceil((item.retryAt - Date.now()) / 1000) })}`
          : "";
        line.textContent = `${item.label} (${text("pending_waiting")}${wait})`;
        return line;
      }),
    );
    $("pending").hidden = items.length === 0;
  }

  // Sends one operation of the outbox and says how it ended: "done" (with the answer),
  // "refused" (a final refusal: it leaves the outbox), "later" (kept: to send again), or
  // "unpaired".
  async function send(entry) {
    let answer;
    try {
      answer = await call("POST", entry.path, entry.body, entry.key);
    } catch {
      entry.pending = true;
      updateEntry(entry);
      return { outcome: "later", sentence: text("pending_saved") };
    }
    if (RETRY_LATER.includes(code(answer))) {
      entry.pending = true;
      entry.retryAt = Date.now() + answer.retryAfter * 1000;
      updateEntry(entry);
      return { outcome: "later", sentence: sentence(answer) };
    }
    if (answer.status === 401) {
      unpaired();
      return { outcome: "unpaired" };
    }
    removeEntry(entry);
    if (answer.status >= 200 && answer.status < 300) return { outcome: "done", answer };
    return { outcome: "refused", answer, sentence: sentence(answer) };
  }

  // Sends what is waiting, oldest first; stops at the first one that still cannot go.
  async function flush() {
    if (flushing || !pairing) return;
    flushing = true;
    try {
      for (const entry of outbox()) {
        // One being sent for the first time is the confirming dialog's to answer.
        if (!entry.pending || (entry.retryAt && entry.retryAt > Date.now())) continue;
        const result = await send(entry);
        if (result.outcome === "later" || result.outcome === "unpaired") break;
        if (result.outcome === "done") {
          say(`${text("pending_sent", { label: entry.label })} ${doneSentence(entry, result.answer.data)}`);
          if (card && entry.card === card.number) refreshCard();
        } else {
          warn(text("pending_refused", { label: entry.label, reason: result.sentence }));
        }
      }
    } finally {
      flushing = false;
      showPending();
    }
  }

  // --- Confirming an operation: the dialog with the staff PIN ------------------------------

  const dialog = $("confirm");
  const pinInput = $("staff-pin");
  const pinError = $("pin-error");
  let confirming = null;

  function confirm(operation) {
    confirming = operation;
    $("confirm-summary").textContent = operation.label;
    $("pin-field").hidden = !(program && program.require_staff_pin);
    pinInput.value = "";
    pinError.textContent = "";
    pinInput.removeAttribute("aria-invalid");
    $("confirm-submit").disabled = false;
    dialog.showModal();
    ($("pin-field").hidden ? $("confirm-submit") : pinInput).focus();
  }

  function pinRefused(sentence) {
    pinError.textContent = sentence;
    pinInput.setAttribute("aria-invalid", "true");
    pinInput.value = "";
    pinInput.focus();
  }

  $("confirm-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    confirming = null;
  });

  $("confirm-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const operation = confirming;
    if (!operation) return;
    const body = { ...operation.body };
    if (program && program.require_staff_pin) {
      if (!/^[0-9]{4,8}$/.test(pinInput.value)) {
        pinRefused(text("pin_required"));
        return;
      }
      body.staff_pin = pinInput.value;
    }
    // Confirmed: from here on this is one operation with one key, kept until answered.
    const entry = {
      key: newKey(),
      path: operation.path,
      body,
      kind: operation.kind,
      label: operation.label,
      card: operation.card || null,
      createdAt: Date.now(),
    };
    saveOutbox([...outbox(), entry]);
    $("confirm-submit").disabled = true;
    const result = await send(entry);
    $("confirm-submit").disabled = false;
    if (result.outcome === "refused" && PIN_ERRORS.includes(code(result.answer))) {
      pinRefused(result.sentence);
      return;
    }
    dialog.close();
    if (result.outcome === "done") {
      operation.done(result.answer.data);
      say(doneSentence(entry, result.answer.data));
    } else if (result.outcome === "refused") {
      warn(result.sentence);
    } else if (result.outcome === "later") {
      operation.kept && operation.kept();
      warn(result.sentence);
    }
  });

  function doneSentence(entry, data) {
    if (entry.kind === "enrol") {
      const done = text("done_enrol", {
        number: CardNumber.display(data.number),
        name: data.customer_first_name,
      });
      return data.welcome_bonus_points
        ? `${done} ${text("welcome_bonus", { points: numbers.format(data.welcome_bonus_points) })}`
        : done;
    }
    const after = data.card;
    if (entry.kind === "stamps" || entry.kind === "redeem_stamps") {
      return text("done_stamps", {
        stamps: numbers.format(after.stamp_count),
        target: numbers.format(after.stamps_target),
      });
    }
    if (entry.kind === "void") {
      return text("done_void", {
        balance: numbers.format(after.points_balance),
        stamps: numbers.format(after.stamp_count),
      });
    }
    return text(entry.kind === "earn" ? "done_earn" : "done_redeem", {
      delta: signed.format(data.transaction.points_delta),
      balance: numbers.format(after.points_balance),
    });
  }

  // --- Screens --------------------------------------------------------------------------

  function showScreen(name) {
    $("find").hidden = name === "enrol" || name === "unpaired";
    $("card").hidden = name !== "card";
    $("enrol").hidden = name !== "enrol";
  }

  function unpaired() {
    const dropped = outbox().map((item) => item.label);
    pairing = null;
    Terminal.forgetPairing();
    localStorage.removeItem(OUTBOX);
    localStorage.removeItem(PROGRAM);
    if (dialog.open) dialog.close();
    showPending();
    showScreen("unpaired");
    $("terminal-name").textContent = text("unpaired");
    const parts = [Terminal.errors.authentication_failed];
    if (dropped.length) parts.push(text("pending_dropped", { labels: dropped.join("; ") }));
    warn(parts.join(" "));
    $("unpaired").hidden = false;
  }

  function showProgram() {
    const points = program.kind !== "stamps";
    const stamps = program.kind !== "points";
    for (const form of document.querySelectorAll("[data-needs]")) {
      form.hidden = form.dataset.needs === "points" ? !points : !stamps;
    }
    $("points-box").hidden = !points;
    $("stamps-box").hidden = !stamps;
    const select = $("redeem-reward");
    select.replaceChildren(select.options[0]);
    for (const reward of program.rewards || []) {
      const option = document.createElement("option");
      option.value = String(reward.id);
      option.textContent = `${reward.name} (${numbers.format(reward.points_cost)})`;
      option.dataset.points = String(reward.points_cost);
      option.dataset.name = reward.name;
      select.append(option);
    }
    $("redeem-reward-field").hidden = !(program.rewards || []).length;
  }

  async function loadProgram() {
    let answer;
    try {
      answer = await call("GET", "program/");
    } catch {
      if (!program) warn(Terminal.errors.offline);
      return;
    }
    if (answer.status === 401) return unpaired();
    if (answer.status !== 200) return warn(sentence(answer));
    program = answer.data;
    localStorage.setItem(PROGRAM, JSON.stringify(program));
    showProgram();
  }

  // --- Finding a card -------------------------------------------------------------------

  const numberInput = $("card-number");

  async function lookUp(raw) {
    const number = CardNumber.normalize(raw);
    if (!number) {
      showScreen("find");
      fieldError(numberInput, "card-number-error", text("check_digit"));
      return;
    }
    fieldError(numberInput, "card-number-error", "");
    await openCard(number);
  }

  async function openCard(number) {
    let answer;
    try {
      answer = await call("GET", `cards/${number}/`);
    } catch {
      warn(Terminal.errors.offline);
      return;
    }
    if (answer.status === 401) return unpaired();
    if (answer.status !== 200) {
      showScreen("find");
      fieldError(numberInput, "card-number-error", sentence(answer));
      return;
    }
    warn("");
    numberInput.value = "";
    showCard(answer.data);
    showScreen("card");
    $("card").focus();
    await loadActivity();
  }

  async function refreshCard() {
    if (!card) return;
    try {
      const answer = await call("GET", `cards/${card.number}/`);
      if (answer.status === 200) showCard(answer.data);
    } catch {
      return;
    }
    await loadActivity();
  }

  function showCard(data) {
    card = data;
    $("card-title").textContent = text("on_card", { number: CardNumber.display(data.number) });
    $("card-customer").textContent = data.customer_first_name || text("customer_unknown");
    $("card-inactive").hidden = data.is_active;
    $("points-balance").textContent = numbers.format(data.points_balance);
    $("stamps-progress").textContent = text("stamps_progress", {
      stamps: numbers.format(data.stamp_count),
      target: numbers.format(data.stamps_target),
    });
    const dots = [];
    for (let index = 1; index <= data.stamps_target; index += 1) {
      const dot = document.createElement("li");
      dot.className = `stamps__stamp${index <= data.stamp_count ? " stamps__stamp--on" : ""}`;
      dots.push(dot);
    }
    $("stamps-dots").replaceChildren(...dots);
    $("stamps-ready").hidden = data.stamp_count < data.stamps_target;
    $("redeem-stamps").disabled = data.stamp_count < data.stamps_target;
  }

  async function loadActivity() {
    const number = card.number;
    let answer;
    try {
      answer = await call("GET", `cards/${number}/transactions/?page_size=${RECENT}`);
    } catch {
      return;
    }
    if (answer.status !== 200 || !card || card.number !== number) return;
    const lines = answer.data.results.map((entry) => activityLine(entry));
    if (!lines.length) {
      const empty = document.createElement("li");
      empty.textContent = text("no_activity");
      lines.push(empty);
    }
    $("activity").replaceChildren(...lines);
  }

  function activityLine(entry) {
    const line = document.createElement("li");
    const what = Terminal.activity[entry.type] || entry.type;
    const when = dates.format(new Date(entry.created_at));
    const description = document.createElement("span");
    const deltas = [];
    if (entry.points_delta) deltas.push(signed.format(entry.points_delta));
    if (entry.stamps_delta) deltas.push(`${signed.format(entry.stamps_delta)} ★`);
    description.textContent = `${what} ${deltas.join(" ")}`;
    const time = document.createElement("time");
    time.dateTime = entry.created_at;
    time.textContent = when;
    line.append(description, " ", time);
    if (entry.voided_by) {
      const mark = document.createElement("span");
      mark.className = "counter__voided";
      mark.textContent = ` (${text("voided")})`;
      line.append(mark);
    } else if (VOIDABLE.includes(entry.type)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button button--small";
      button.textContent = text("void_button");
      button.setAttribute("aria-label", text("void_label", { what, when }));
      button.addEventListener("click", () =>
        confirm({
          kind: "void",
          path: `transactions/${entry.id}/void/`,
          body: {},
          card: card.number,
          label: text("confirm_void", { what, when }),
          done: showOperation,
        }),
      );
      line.append(" ", button);
    }
    return line;
  }

  $("find-form").addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp(numberInput.value);
  });

  // A barcode scanner types like a keyboard and ends with Enter. Into the number field that
  // is an ordinary submit; anywhere else on the page (the card screen, say) the digits are
  // caught here, when they arrive faster than a person types.
  let scanned = "";
  let scanStarted = 0;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (dialog.open || target.closest("input, select, textarea, button, a, dialog")) return;
    if (/^[0-9]$/.test(event.key)) {
      if (!scanned) scanStarted = Date.now();
      scanned += event.key;
    } else if (event.key === "Enter" && scanned) {
      const fast = Date.now() - scanStarted < 80 * scanned.length;
      const number = scanned;
      scanned = "";
      if (fast) {
        event.preventDefault();
        lookUp(number);
      }
    } else {
      scanned = "";
    }
  });

  // The camera, where the browser reads barcodes itself (BarcodeDetector); hidden elsewhere.
  let stream = null;
  if ("BarcodeDetector" in window) $("camera-start").hidden = false;

  function stopCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    $("camera").hidden = true;
  }

  $("camera-start").addEventListener("click", async () => {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      const wanted = ["qr_code", "code_128", "ean_13"].filter((f) => formats.includes(f));
      const detector = new BarcodeDetector({ formats: wanted });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      const video = $("camera-video");
      video.srcObject = stream;
      $("camera").hidden = false;
      await video.play();
      const look = async () => {
        if (!stream) return;
        const found = (await detector.detect(video)).map((code) => code.rawValue);
        const number = found.map((value) => CardNumber.normalize(value)).find(Boolean);
        if (number) {
          stopCamera();
          openCard(number);
        } else {
          setTimeout(look, 250);
        }
      };
      look();
    } catch {
      stopCamera();
      warn(text("camera_error"));
    }
  });
  $("camera-stop").addEventListener("click", stopCamera);

  $("card-close").addEventListener("click", () => {
    card = null;
    showScreen("find");
    numberInput.focus();
  });

  // --- Working the card -----------------------------------------------------------------

  function cardOperation(kind, path, body, label) {
    const number = card.number;
    confirm({
      kind,
      path: `cards/${number}/${path}`,
      body,
      card: number,
      label: `${label} · ${text("on_card", { number: CardNumber.display(number) })}`,
      done: showOperation,
    });
  }

  // A ledger operation answers with the card as it left it.
  function showOperation(data) {
    if (card && card.number === data.card.number) {
      showCard(data.card);
      loadActivity();
    }
  }

  function wholeNumber(input, errorId, message) {
    const value = input.value.trim();
    const ok = /^[0-9]{1,7}$/.test(value) && Number(value) > 0;
    fieldError(input, errorId, ok ? "" : message);
    return ok ? Number(value) : null;
  }

  $("earn-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("earn-amount");
    const match = input.value.trim().match(/^([0-9]{1,7})(?:[.,]([0-9]{1,2}))?$/);
    const cents = match ? Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0")) : 0;
    if (!fieldError(input, "earn-amount-error", cents > 0 ? "" : text("amount_invalid"))) return;
    const body = { purchase_amount_cents: cents };
    const reference = $("earn-reference").value.trim();
    if (reference) body.order_reference = reference;
    cardOperation(
      "earn",
      "points/earn/",
      body,
      text("confirm_earn_amount", { amount: euros.format(cents / 100) }),
    );
  });

  $("redeem-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reward = $("redeem-reward").selectedOptions[0];
    if (reward && reward.value) {
      fieldError($("redeem-points"), "redeem-points-error", "");
      cardOperation(
        "redeem",
        "points/redeem/",
        { reward_id: Number(reward.value) },
        text("confirm_redeem_reward", {
          reward: reward.dataset.name,
          points: numbers.format(Number(reward.dataset.points)),
        }),
      );
      return;
    }
    const points = wholeNumber($("redeem-points"), "redeem-points-error", text("redeem_choice"));
    if (points === null) return;
    cardOperation(
      "redeem",
      "points/redeem/",
      { points },
      text("confirm_redeem_points", { points: numbers.format(points) }),
    );
  });

  $("stamps-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const count = wholeNumber($("stamps-count"), "stamps-count-error", text("count_invalid"));
    if (count === null) return;
    cardOperation(
      "stamps",
      "stamps/",
      { count },
      text("confirm_stamps", { count: numbers.format(count) }),
    );
  });

  $("redeem-stamps").addEventListener("click", () => {
    cardOperation(
      "redeem_stamps",
      "stamps/redeem/",
      {},
      text("confirm_redeem_stamps", { target: numbers.format(card.stamps_target) }),
    );
  });

  // --- Enrolment ------------------------------------------------------------------------

  $("enrol-start").addEventListener("click", () => {
    showScreen("enrol");
    $("enrol-first-name").focus();
  });
  $("enrol-cancel").addEventListener("click", () => {
    showScreen(card ? "card" : "find");
  });

  $("enrol-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const firstName = $("enrol-first-name").value.trim();
    const email = $("enrol-email").value.trim();
    const error = $("enrol-error");
    let problem = "";
    if (!firstName) problem = Terminal.fields.first_name;
    else if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) problem = Terminal.fields.email;
    else if (!$("enrol-terms").checked) problem = text("terms_required");
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) {
      error.focus();
      return;
    }
    const body = {
      first_name: firstName,
      last_name: $("enrol-last-name").value.trim(),
      email,
      phone: $("enrol-phone").value.trim(),
      birth_date: $("enrol-birth-date").value || null,
      locale: $("enrol-locale").value,
      marketing_consent: $("enrol-consent").checked,
    };
    confirm({
      kind: "enrol",
      path: "enrollments/",
      body,
      label: text("confirm_enrol", { name: firstName, email }),
      done: (data) => {
        $("enrol-form").reset();
        showCard(data);
        showScreen("card");
        loadActivity();
      },
      kept: () => {
        $("enrol-form").reset();
        showScreen("find");
      },
    });
  });

  // --- Start ----------------------------------------------------------------------------

  if (!pairing) {
    window.location.replace(root.dataset.pairUrl);
    return;
  }
  $("terminal-name").textContent = text("paired", {
    merchant: pairing.merchant,
    store: pairing.store_name || pairing.store,
  });
  if (program) showProgram();
  showScreen("find");
  // What is in the outbox now was confirmed before this page opened: all of it is waiting.
  saveOutbox(outbox().map((item) => ({ ...item, pending: true })));
  numberInput.focus();
  loadProgram().then(flush);
  window.addEventListener("online", flush);
  setInterval(() => {
    showPending();
    flush();
  }, RETRY_EVERY_MS);
});
