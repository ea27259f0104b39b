// The rating tool's pages: server-rendered shells (escaped) plus one static script and style sheet.
// No inline script or style, so the Content-Security-Policy can forbid both.
import { MASK_COLOURS } from '../../lib/quality/mosaic.js';
import { ARTIFACT_KINDS, SCORE_LABELS } from '../../lib/rating/ratings.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const rgb = (c: [number, number, number]) => `rgb(${c.join(', ')})`;

function layout(title: string, body: string, meta = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${meta}<link rel="stylesheet" href="/static/app.css">
</head>
<body>
${body}
</body>
</html>
`;
}

export function loginPage(opts: { allowNames: boolean; error?: string }): string {
  const nameField = opts.allowNames
    ? `<p><label>Your name <input name="name" id="name" autocomplete="username" maxlength="64"></label></p>
<p class="help">On this computer you may just name yourself. If you have a token, use it instead.</p>`
    : '';
  return layout(
    'OpenMind QC: sign in',
    `<main class="login">
<h1>OpenMind image-quality rating</h1>
${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="/login">
${nameField}
<p><label>Token <input name="token" id="token" type="password" autocomplete="current-password"></label></p>
<p class="help">Tokens come from <code>openmind raters add &lt;name&gt;</code>.</p>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>
</main>`,
  );
}

export function ratingPage(opts: { rater: string; csrfToken: string }): string {
  const scores = [1, 2, 3, 4, 5]
    .map((s) => `<label class="score"><input type="radio" name="score" value="${s}" id="score-${s}"> <b>${s}</b> ${SCORE_LABELS[s]}</label>`)
    .join('\n');
  const artifacts = ARTIFACT_KINDS.map(
    (a) => `<label class="artifact"><input type="checkbox" name="artifact" value="${a}" id="artifact-${a}"> ${a.replace(/_/g, ' ')}</label>`,
  ).join('\n');
  return layout(
    'OpenMind QC rating',
    `<header>
<span class="brand">OpenMind image-quality rating</span>
<span>signed in as <b id="rater-name">${escapeHtml(opts.rater)}</b></span>
<span id="progress"></span>
<form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf" value="${escapeHtml(opts.csrfToken)}"><button type="submit">Sign out</button></form>
</header>
<main class="rate">
<section id="task">
<h1 id="task-title">Loading…</h1>
<p id="task-note"></p>
<figure id="montage-figure" hidden>
<img id="montage" alt="montage of sampled scans">
<figcaption>Montage of sampled scans. Outlines: <span class="swatch" id="swatch-anatomy"></span> anatomy mask,
<span class="swatch" id="swatch-anon"></span> anonymization (defacing) mask.</figcaption>
</figure>
<h2>Automatic metrics</h2>
<table id="metrics"><thead></thead><tbody></tbody></table>
<h2>Scans</h2>
<div id="scans"></div>
</section>
<aside>
<form id="rating-form" autocomplete="off">
<fieldset><legend>Quality (1 best … 5 worst)</legend>
${scores}
</fieldset>
<fieldset><legend>Artifacts seen</legend>
${artifacts}
</fieldset>
<label for="comment">Comment</label>
<textarea id="comment" name="comment" rows="4" maxlength="4000"></textarea>
<p><button type="submit" id="submit">Submit rating</button></p>
<p id="message" role="status" aria-live="polite"></p>
<p class="help" id="shortcuts">Keyboard: press <kbd>1</kbd>–<kbd>5</kbd> to choose the score and <kbd>Enter</kbd> to submit
(outside the comment box). Submitting again for the same item stores a new version; every version is kept.</p>
</form>
<h2>Your ratings</h2>
<ul id="my-tasks"></ul>
</aside>
</main>`,
    `<meta name="csrf-token" content="${escapeHtml(opts.csrfToken)}">
<script src="/static/app.js" defer></script>
`,
  );
}

export const APP_CSS = `
body { font-family: system-ui, sans-serif; margin: 0; background: #1b1b1d; color: #e8e8e8; }
header { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; background: #2a2a2e; }
header .brand { font-weight: bold; }
header .logout { margin-left: auto; }
main.rate { display: grid; grid-template-columns: minmax(0, 1fr) 22em; gap: 1em; padding: 1em; }
main.login { max-width: 28em; margin: 4em auto; }
img { max-width: 100%; image-rendering: pixelated; background: #000; }
figure { margin: 0 0 1em 0; }
figcaption { font-size: .85em; color: #bbb; }
.swatch { display: inline-block; width: .9em; height: .9em; vertical-align: middle; }
#swatch-anatomy { background: ${rgb(MASK_COLOURS.anatomy)}; }
#swatch-anon { background: ${rgb(MASK_COLOURS.anonymization)}; }
table { border-collapse: collapse; font-size: .85em; }
th, td { border: 1px solid #444; padding: .2em .5em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
#scans { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .5em; }
fieldset { border: 1px solid #555; margin-bottom: .8em; }
label.score, label.artifact { display: block; padding: .15em 0; }
textarea { width: 100%; box-sizing: border-box; }
button { font-size: 1em; padding: .3em 1em; }
.help { font-size: .85em; color: #aaa; }
.error { color: #ff8080; }
#message.ok { color: #8f8; }
#message.bad { color: #f88; }
kbd { border: 1px solid #777; border-radius: 3px; padding: 0 .3em; }
#my-tasks li { margin: .2em 0; }
`;

/** The page's behaviour: load the next item, show it, submit with an idempotency key, keyboard shortcuts. */
export const APP_JS = `
'use strict';
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById('rating-form');
  const button = document.getElementById('submit');
  const message = document.getElementById('message');
  const KEY_METRICS = ['efc', 'fber', 'snr_total', 'snrd_total', 'cnr', 'cjv', 'qi_1', 'fwhm_avg'];
  let current = null;
  let submissionId = null;
  let busy = false;

  function newSubmissionId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'web-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts, {
      headers: Object.assign({ 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, (opts && opts.headers) || {}),
    }));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(body.error || res.statusText);
      err.reason = body.reason;
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function say(text, ok) {
    message.textContent = text;
    message.className = ok ? 'ok' : 'bad';
  }

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }

  function fmt(v) {
    return typeof v === 'number' ? (Math.abs(v) >= 1000 ? v.toExponential(2) : Number(v.toPrecision(3)).toString()) : '–';
  }

  function renderMetrics(scans) {
    const table = document.getElementById('metrics');
    const head = table.querySelector('thead');
    const body = table.querySelector('tbody');
    head.replaceChildren();
    body.replaceChildren();
    const tr = el('tr');
    tr.append(el('th', 'scan'), ...KEY_METRICS.map((m) => el('th', m)));
    head.append(tr);
    for (const s of scans) {
      const row = el('tr');
      row.append(el('td', s.scanId), ...KEY_METRICS.map((m) => el('td', fmt(s.metrics[m]))));
      body.append(row);
    }
  }

  function renderScans(scans) {
    const box = document.getElementById('scans');
    box.replaceChildren();
    for (const s of scans) {
      const fig = el('figure');
      if (s.mosaic.url) fig.append(el('img', null, { src: s.mosaic.url, alt: 'mosaic of ' + s.scanId, loading: 'lazy' }));
      fig.append(el('figcaption', s.scanId));
      box.append(fig);
    }
  }

  function resetForm(prefill) {
    form.reset();
    if (prefill) {
      const radio = document.getElementById('score-' + prefill.score);
      if (radio) radio.checked = true;
      for (const a of prefill.artifacts) {
        const box = document.getElementById('artifact-' + a);
        if (box) box.checked = true;
      }
      document.getElementById('comment').value = prefill.comment || '';
    }
    submissionId = newSubmissionId();
  }

  function render(info) {
    current = info.task ? info : null;
    document.getElementById('progress').textContent = info.total ? (info.total - info.remaining) + ' of ' + info.total + ' rated' : '';
    const title = document.getElementById('task-title');
    const note = document.getElementById('task-note');
    const figure = document.getElementById('montage-figure');
    if (!info.task) {
      title.textContent = 'Nothing left to rate';
      note.textContent = 'Every dataset × modality has your rating. You can revise one from the list.';
      figure.hidden = true;
      renderMetrics([]);
      renderScans([]);
      button.disabled = true;
      return;
    }
    const t = info.task;
    title.textContent = t.datasetId + ' × ' + t.modality;
    const mine = info.mine && info.mine.current;
    note.textContent = mine ? 'Revising your rating (version ' + mine.version + ', score ' + mine.score + ').' : t.scans.length + ' scans.';
    figure.hidden = !t.montage.url;
    if (t.montage.url) document.getElementById('montage').src = t.montage.url;
    renderMetrics(t.scans);
    renderScans(t.scans);
    button.disabled = false;
    resetForm(mine);
  }

  async function loadMine() {
    const r = await api('/api/tasks');
    const list = document.getElementById('my-tasks');
    list.replaceChildren();
    for (const t of r.tasks.filter((t) => t.myScore !== null)) {
      const li = el('li', t.datasetId + ' × ' + t.modality + ': ' + t.myScore + ' (v' + t.myVersion + ') ');
      const revise = el('button', 'Revise', { type: 'button' });
      revise.addEventListener('click', () => loadTask(t.datasetId, t.modality));
      li.append(revise);
      list.append(li);
    }
  }

  async function loadNext() {
    render(await api('/api/next'));
    await loadMine();
  }

  async function loadTask(datasetId, modality) {
    render(await api('/api/tasks/' + encodeURIComponent(datasetId) + '/' + encodeURIComponent(modality)));
    // Move focus off the Revise button, so that the keys 1-5 and Enter act on the form.
    const radio = form.querySelector('input[name="score"]:checked') || form.querySelector('input[name="score"]');
    if (radio) radio.focus();
  }

  async function submit() {
    if (busy || !current) return;
    const chosen = form.querySelector('input[name="score"]:checked');
    if (!chosen) {
      say('Choose a score first (keys 1–5).', false);
      return;
    }
    busy = true;
    button.disabled = true;
    const t = current.task;
    const body = {
      datasetId: t.datasetId,
      modality: t.modality,
      score: Number(chosen.value),
      artifacts: Array.from(form.querySelectorAll('input[name="artifact"]:checked'), (b) => b.value),
      comment: document.getElementById('comment').value,
      submissionId,
      imagesShown: [t.montage.path, ...t.scans.map((s) => s.mosaic.path)].filter(Boolean),
    };
    if (current.mine && current.mine.current) body.revises = current.mine.current.id;
    try {
      const r = await api('/api/ratings', { method: 'POST', body: JSON.stringify(body) });
      say('Saved ' + t.datasetId + ' × ' + t.modality + ': score ' + r.rating.score + ' (version ' + r.rating.version + ').', true);
      await loadNext();
    } catch (err) {
      if (err.reason === 'duplicate_submission') {
        say('Already saved.', true);
        await loadNext();
      } else {
        say('Not saved: ' + err.message + ' (' + (err.reason || err.status) + ')', false);
      }
    } finally {
      busy = false;
      if (current) button.disabled = false;
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });

  document.addEventListener('keydown', (e) => {
    const target = e.target;
    if (target && (target.tagName === 'TEXTAREA' || (target.tagName === 'INPUT' && (target.type === 'text' || target.type === 'password')))) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (/^[1-5]$/.test(e.key)) {
      const radio = document.getElementById('score-' + e.key);
      if (radio) radio.checked = true;
      e.preventDefault();
    } else if (e.key === 'Enter') {
      // Buttons and links keep their own Enter (sign out, revise); a held key submits once.
      if (target && (target.tagName === 'BUTTON' || target.tagName === 'A' || target.tagName === 'SELECT')) return;
      e.preventDefault();
      if (!e.repeat) submit();
    }
  });

  loadNext().catch((err) => say('Could not load: ' + err.message, false));
})();
`;
