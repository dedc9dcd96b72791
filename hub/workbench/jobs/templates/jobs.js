// The jobs pages' one script: every action calls the service's JSON API and shows its answer.
// Written into the page with the response's CSP nonce; it builds DOM nodes with textContent only.
(function () {
  'use strict';
  const body = document.body;
  const base = body.dataset.base;
  const POLL_MS = 2000;
  const ACTIVE = ['queued', 'running'];

  async function api(method, path, data) {
    const headers = { 'X-XSRFToken': body.dataset.xsrf, 'X-Jobs-Page-Token': body.dataset.pageToken };
    const init = { method, headers, credentials: 'same-origin', redirect: 'error' };
    if (data !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(data);
    }
    let response;
    try {
      response = await fetch(base + 'api/v1/' + path, init);
    } catch (err) {
      return { status: 0, data: { error: 'the jobs service cannot be reached (' + err.message + '): reload the page' } };
    }
    let answer = {};
    const text = await response.text();
    if (text) {
      try { answer = JSON.parse(text); } catch (err) { answer = { error: text.slice(0, 300) }; }
    }
    return { status: response.status, data: answer };
  }

  // Which field an API error is about, from its message (e.g. "parameter n: expected int …").
  const FIELD_PATTERNS = [
    [/^parameter ([A-Za-z_][A-Za-z0-9_]*)\b/, 1],
    [/^unknown parameter/, 'form'],
    [/^invalid job name/, 'name'],
    [/^invalid segment/, 'segment'],
    [/^notebook\b/, 'notebook'],
    [/^invalid schedule/, 'schedule'],
    [/^invalid timeout/, 'timeout_s'],
    [/^description\b/, 'description'],
  ];

  function fieldOf(message) {
    for (const [pattern, field] of FIELD_PATTERNS) {
      const m = pattern.exec(message);
      if (m) return typeof field === 'number' ? m[field] : field;
    }
    return 'form';
  }

  function clearErrors(form) {
    form.querySelectorAll('.wb-error').forEach((el) => { el.textContent = ''; });
  }

  function showError(form, answer) {
    const message = (answer.data && answer.data.error) || ('HTTP ' + answer.status);
    let slot = form.querySelector('[data-error-for="' + CSS.escape(fieldOf(message)) + '"]');
    if (!slot) slot = form.querySelector('[data-error-for="form"]');
    slot.textContent = message;
  }

  function notice(id, text, bad) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    el.classList.toggle('wb-bad', Boolean(bad));
  }

  async function submit(form, button, action) {
    clearErrors(form);
    button.disabled = true;
    try {
      const answer = await action();
      if (answer && (answer.status < 200 || answer.status >= 300)) showError(form, answer);
      return answer;
    } finally {
      button.disabled = false;
    }
  }

  // --- the list of jobs -----------------------------------------------------------------------
  function jobsPage() {
    const form = document.getElementById('create-form');
    if (!form) return;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const value = (name) => form.elements[name].value.trim();
      const job = { name: value('name'), notebook: value('notebook'), segment: value('segment') };
      if (value('schedule')) job.schedule = value('schedule');
      if (value('description')) job.description = value('description');
      const answer = await submit(form, document.getElementById('create-job'), () => api('POST', 'jobs', job));
      if (answer.status === 201) window.location.assign(base + 'jobs/' + encodeURIComponent(answer.data.name) + '?created=1');
    });
  }

  // --- one job --------------------------------------------------------------------------------
  // A parameter's value as typed: numbers and JSON parsed when they parse, else sent as typed, so the
  // API's own message says what is wrong.
  function parameterValue(input) {
    const type = input.dataset.type;
    if (type === 'bool') return input.checked;
    const raw = input.value;
    if (type === 'int' || type === 'float') {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw;
    }
    if (type === 'str' || type === 'DataPath') return raw;
    try { return JSON.parse(raw); } catch (err) { return raw; }
  }

  function parameters(form) {
    const out = {};
    form.querySelectorAll('[data-type]').forEach((input) => { out[input.name] = parameterValue(input); });
    return out;
  }

  function cell(text, className) {
    const td = document.createElement('td');
    if (text !== undefined) td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function link(href, text) {
    const a = document.createElement('a');
    a.href = href;
    a.textContent = text;
    return a;
  }

  function when(iso) {
    return iso ? iso.slice(0, 10) + ' ' + iso.slice(11, 16) : '';
  }

  function runRow(run, job) {
    const tr = document.createElement('tr');
    tr.dataset.run = run.id;
    tr.dataset.status = run.status;
    const number = cell();
    number.appendChild(link(base + 'runs/' + run.id, '#' + run.id));
    tr.appendChild(number);
    const status = cell();
    const badge = document.createElement('span');
    badge.className = 'wb-status wb-status-' + run.status;
    badge.textContent = run.status;
    status.appendChild(badge);
    if (run.error) {
      const why = document.createElement('span');
      why.className = 'wb-help';
      why.textContent = run.error.slice(0, 200);
      status.appendChild(why);
    }
    tr.appendChild(status);
    const progress = cell();
    progress.className = 'run-progress';
    const cells = run.progress || {};
    if (cells.cells_total) {
      const bar = document.createElement('progress');
      bar.max = cells.cells_total;
      bar.value = cells.cells_done || 0;
      progress.appendChild(bar);
      progress.appendChild(document.createTextNode(' ' + (cells.cells_done || 0) + '/' + cells.cells_total + ' cells'));
    } else if (run.status === 'queued') {
      progress.textContent = 'waiting for a worker';
    }
    tr.appendChild(progress);
    tr.appendChild(cell(when(run.created_at)));
    tr.appendChild(cell(run.requested_by + ' (' + run.trigger + ')'));
    const params = cell();
    const code = document.createElement('code');
    code.textContent = JSON.stringify(run.parameters);
    params.appendChild(code);
    tr.appendChild(params);
    const files = cell();
    const kinds = [['log', 'log'], ['report', 'report'], ['notebook', 'notebook'], ['scraps', 'values']];
    kinds.forEach(([kind, label], i) => {
      if (i) files.appendChild(document.createTextNode(' · '));
      files.appendChild(link(base + 'api/v1/runs/' + run.id + '/' + kind, label));
    });
    tr.appendChild(files);
    const actions = cell();
    if (ACTIVE.includes(run.status)) {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'wb-danger run-cancel';
      cancel.textContent = 'Cancel';
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        const answer = await api('POST', 'runs/' + run.id + '/cancel');
        if (answer.status >= 300) notice('job-notice', answer.data.error || 'HTTP ' + answer.status, true);
        else notice('job-notice', 'Run #' + run.id + ' is ' + answer.data.status + '.');
        refresh(job);
      });
      actions.appendChild(cancel);
    }
    tr.appendChild(actions);
    return tr;
  }

  let timer = null;
  async function refresh(job) {
    clearTimeout(timer);
    const answer = await api('GET', 'jobs/' + encodeURIComponent(job) + '/runs?limit=20');
    if (answer.status === 200) {
      const rows = answer.data.runs.map((run) => runRow(run, job));
      document.getElementById('runs-body').replaceChildren(...rows);
      document.getElementById('runs-table').hidden = rows.length === 0;
      document.getElementById('runs-empty').hidden = rows.length !== 0;
      const busy = answer.data.runs.some((run) => ACTIVE.includes(run.status));
      timer = setTimeout(() => refresh(job), busy ? POLL_MS : 5 * POLL_MS);
    } else {
      notice('job-notice', (answer.data && answer.data.error) || 'HTTP ' + answer.status, true);
      timer = setTimeout(() => refresh(job), 5 * POLL_MS);
    }
  }

  function jobPage() {
    const job = body.dataset.job;
    if (new URLSearchParams(window.location.search).has('created')) {
      notice('job-notice', 'Job ' + job + ' created. Run it with the form below.');
    }
    const runForm = document.getElementById('run-form');
    runForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const answer = await submit(runForm, document.getElementById('run-job'),
        () => api('POST', 'jobs/' + encodeURIComponent(job) + '/runs', { parameters: parameters(runForm) }));
      if (answer.status === 201) {
        notice('job-notice', 'Run #' + answer.data.id + ' started.');
        refresh(job);
      }
    });
    const save = document.getElementById('save-defaults');
    if (save) {
      save.addEventListener('click', async () => {
        const answer = await submit(runForm, save,
          () => api('PATCH', 'jobs/' + encodeURIComponent(job), { parameters: parameters(runForm) }));
        if (answer.status === 200) notice('job-notice', 'The job\u2019s parameter values are saved.');
      });
    }
    const edit = document.getElementById('edit-form');
    if (edit) {
      edit.addEventListener('submit', async (event) => {
        event.preventDefault();
        const timeout = edit.elements.timeout_s.value.trim();
        const change = {
          schedule: edit.elements.schedule.value.trim() || null,
          description: edit.elements.description.value,
          timeout_s: /^[0-9]+$/.test(timeout) ? Number(timeout) : timeout,
        };
        const answer = await submit(edit, document.getElementById('save-job'),
          () => api('PATCH', 'jobs/' + encodeURIComponent(job), change));
        if (answer.status === 200) window.location.reload();
      });
      const remove = document.getElementById('delete-job');
      remove.addEventListener('click', async () => {
        if (!window.confirm('Delete the job ' + job + ' and cancel its active runs?')) return;
        const answer = await submit(edit, remove, () => api('DELETE', 'jobs/' + encodeURIComponent(job)));
        if (answer.status === 204) window.location.assign(base);
      });
    }
    refresh(job);
  }

  // --- one run: follow it while it is active, then show the page of its end ------------------
  function runPage() {
    const id = body.dataset.run;
    if (!ACTIVE.includes(body.dataset.status)) return;
    const follow = async () => {
      const answer = await api('GET', 'runs/' + id);
      if (answer.status === 200 && answer.data.status !== body.dataset.status) {
        window.location.reload();
        return;
      }
      setTimeout(follow, POLL_MS);
    };
    setTimeout(follow, POLL_MS);
  }

  if (body.dataset.page === 'jobs') jobsPage();
  if (body.dataset.page === 'run') runPage();
  if (body.dataset.page === 'job') jobPage();
}());
