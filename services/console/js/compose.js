// Compose an alert or a publication. As the officer types, POST /v1/items:preview (which stores
// nothing) returns each channel's rendering and the content gate's findings.
import { api } from './api.js';
import { layout } from './layout.js';
import { el, show, channelText } from './dom.js';

const s = await layout('compose.html');
const $ = (id) => document.getElementById(id);
const form = $('compose');
// The channels this heraldd has enabled, every one chosen to begin with.
$('channels').append(...s.channels.map((name) =>
  el('label', {}, el('input', { type: 'checkbox', name: 'channel', value: name, checked: true }), ` ${channelText(name)}`)));

function kind() {
  return form.querySelector('input[name=kind]:checked').value;
}

// A datetime-local value is office time (UTC+8).
function officeTime(value) {
  return value ? `${value.length === 16 ? `${value}:00` : value}+08:00` : undefined;
}

function body() {
  const item = {
    kind: kind(),
    title: $('title').value,
    summary: $('summary').value || undefined,
    body: $('body').value,
    link: $('link').value || undefined,
    channels: [...form.querySelectorAll('input[name=channel]:checked')].map((c) => c.value),
  };
  if (item.kind === 'alert') {
    item.category = 'overseas_safety';
    item.alert = {
      level: $('level').value,
      severity: $('severity').value,
      urgency: $('urgency').value,
      certainty: $('certainty').value,
      areas: $('areas').value.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
        const [country, ...rest] = line.split(/\s+/);
        return { country: country.toUpperCase(), desc: rest.join(' ') || country };
      }),
      expires: officeTime($('expires').value),
      hotline: $('hotline').value || undefined,
    };
  } else {
    item.category = $('category').value;
    item.publish_at = officeTime($('publish_at').value);
  }
  return item;
}

function showFindings(findings) {
  if (findings.length === 0) {
    show('findings', el('p', { class: 'ok', text: '内容检查：未发现问题。' }));
    return;
  }
  show('findings', el('ul', { class: 'findings' }, findings.map((f) =>
    el('li', { class: 'error', text: `${f.field || ''}${f.position !== undefined ? ` 第 ${f.position} 字` : ''}：${f.word ? `“${f.word}” ` : ''}${f.message || ''}` }))));
}

let timer = null;
let sequence = 0;
async function preview() {
  const mine = ++sequence;
  try {
    const result = await api('POST', '/v1/items:preview', body());
    if (mine !== sequence) return;
    showFindings(result.findings || []);
    show('preview', ...Object.entries(result.channels || {}).map(([name, r]) =>
      el('article', { class: 'card' }, el('h3', { text: channelText(name) }),
        r.length !== undefined ? el('p', { class: 'muted', text: `长度 ${r.length}${r.limit ? ` / ${r.limit}` : ''}` }) : null,
        el('pre', { class: 'wrap', text: r.text || r.error || '' }))));
  } catch (error) {
    if (mine !== sequence) return;
    if (error.status === 404) {
      show('preview', el('p', { class: 'muted', text: '此服务器不提供预览。' }));
      return;
    }
    showFindings([{ field: error.field, message: error.message }].concat(error.details || []));
  }
}

form.addEventListener('input', () => {
  $('alert-fields').hidden = kind() !== 'alert';
  $('publication-fields').hidden = kind() === 'alert';
  clearTimeout(timer);
  timer = setTimeout(preview, 400);
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const created = await api('POST', '/v1/items', body());
    window.location.assign(`item.html?id=${encodeURIComponent(created.id)}`);
  } catch (error) {
    show('message', el('p', { class: 'error', role: 'alert', text: `未能提交：${error.message}${error.field ? `（${error.field}）` : ''}` }));
  }
});
