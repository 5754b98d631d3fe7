import { api, hasRole } from './api.js';
import { layout, showError } from './layout.js';
import { el, show, channelText } from './dom.js';

const s = await layout('report.html');
if (!hasRole(s, 'compiler', 'admin')) {
  // The API refuses the figures anyway; the page says why instead of showing empty forms.
  for (const id of ['stats-form', 'report-form']) document.getElementById(id).hidden = true;
  show('message', el('p', { class: 'error', role: 'alert', text: '统计与报告仅对统计员（compiler）和管理员开放。' }));
  throw new Error('not allowed');
}
const today = new Date();
document.getElementById('from').value = `${today.getFullYear()}-01-01`;
document.getElementById('to').value = today.toISOString().slice(0, 10);
document.getElementById('year').value = today.getFullYear() - 1;

function table(caption, rows) {
  if (rows.length === 0) return el('p', { class: 'muted', text: `${caption}：无数据` });
  const columns = Object.keys(rows[0]);
  return el('table', {}, el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col', text: c })))),
    el('tbody', {}, rows.map((r) => el('tr', {}, columns.map((c) =>
      el('td', { text: c === 'channel' ? channelText(r[c]) : typeof r[c] === 'object' ? JSON.stringify(r[c]) : r[c] }))))));
}

function rowsOf(stats) {
  if (Array.isArray(stats)) return stats;
  for (const key of ['rows', 'groups', 'counts']) if (Array.isArray(stats[key])) return stats[key];
  return [stats];
}

document.getElementById('stats-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const from = document.getElementById('from').value;
  const to = document.getElementById('to').value;
  try {
    const q = (group) => `/v1/stats?from=${from}&to=${to}&group_by=${group}`;
    const [byChannel, byMonth] = await Promise.all([api('GET', q('channel')), api('GET', q('channel,month'))]);
    show('stats', table('按渠道', rowsOf(byChannel)), table('按渠道和月份', rowsOf(byMonth)));
  } catch (error) {
    showError('message', error);
  }
});

document.getElementById('report-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const format = event.submitter ? event.submitter.value : 'md';
  const year = document.getElementById('year').value;
  try {
    const body = await api('GET', `/v1/reports/annual?year=${encodeURIComponent(year)}&format=${format}`);
    const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
    const type = { md: 'text/markdown', csv: 'text/csv', json: 'application/json' }[format];
    const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
    show('downloads', el('a', { href: url, download: `annual-report-${year}.${format}`, text: `下载 ${year} 年度报告（${format}）` }));
  } catch (error) {
    showError('message', error);
  }
});
document.getElementById('stats-form').requestSubmit();
