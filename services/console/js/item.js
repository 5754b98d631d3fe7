// One item: its text, each channel's delivery (and, after a retraction, 已撤回 with the time),
// the audit trail, review and retraction. Kept live by GET /v1/items/{id}/events, or by polling
// GET /v1/items/{id} every 2 s when the stream is unavailable.
import { api, hasRole } from './api.js';
import { layout, showError } from './layout.js';
import { el, show, stateText, channelText } from './dom.js';
import { reviewControls } from './review.js';

const id = new URLSearchParams(window.location.search).get('id') || '';
const LEVELS = { caution: '注意安全', reconsider: '谨慎前往', avoid: '暂勿前往' };
let s = null;
let lastItem = '';
let retracting = false;

function field(label, value) {
  if (value === undefined || value === null || value === '') return null;
  return [el('dt', { text: label }), el('dd', { text: value })];
}

function retractionCell(d) {
  const r = d.retraction;
  if (!r) return el('td', { text: '—' });
  if (r.state === 'retracted' || r.state === 'cancelled') {
    return el('td', { class: 'retracted', text: `已撤回${r.at ? ` ${r.at}` : ''}` });
  }
  return el('td', { text: `${stateText(r.state)}${r.error ? `：${r.error}` : ''}` });
}

function deliveriesTable(item) {
  return el('table', { id: 'deliveries' },
    el('caption', { text: '各渠道投递' }),
    el('thead', {}, el('tr', {}, ['渠道', '状态', '尝试次数', '平台编号', '最近错误', '撤回'].map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, (item.deliveries || []).map((d) => el('tr', { 'data-channel': d.channel },
      el('th', { scope: 'row', text: channelText(d.channel) }),
      el('td', { class: 'state', text: stateText(d.state) }),
      el('td', { text: d.attempts }),
      el('td', { text: d.remote_id || '—' }),
      el('td', { class: 'wrap', text: d.last_error ? `${d.last_error.code}：${d.last_error.message}` : '—' }),
      retractionCell(d)))));
}

function retractPanel(item) {
  if (!hasRole(s, 'duty_officer') || item.state === 'retracted' || item.state === 'withdrawn') return null;
  const box = el('section', { 'aria-labelledby': 'retract-title', class: 'danger' },
    el('h2', { id: 'retract-title', text: '撤回' }));
  const reason = el('input', { id: 'retract-reason', type: 'text', maxlength: '2000', required: true });
  const confirmBox = el('div', { id: 'retract-confirm' });
  const start = () => {
    if (!reason.value.trim()) { reason.focus(); confirmBox.textContent = '请填写撤回原因。'; return; }
    retracting = true;
    const names = item.channels.map(channelText).join('、');
    confirmBox.replaceChildren(
      el('p', { role: 'alert', text: `将从以下全部渠道撤回“${item.title}”：${names}。此操作不可恢复。` }),
      el('button', { type: 'button', class: 'danger', onclick: async () => {
        try {
          await api('POST', `/v1/items/${encodeURIComponent(id)}/retract`, { reason: reason.value });
          confirmBox.replaceChildren(el('p', { role: 'status', text: '已提交撤回。' }));
        } catch (error) {
          confirmBox.replaceChildren(el('p', { class: 'error', role: 'alert', text: `撤回失败：${error.message}` }));
        }
        retracting = false;
        refresh();
      }, text: '确认撤回' }),
      el('button', { type: 'button', class: 'secondary', onclick: () => { retracting = false; confirmBox.replaceChildren(); }, text: '取消' }));
  };
  box.append(el('div', { class: 'row' }, el('label', { for: 'retract-reason', text: '撤回原因' }), reason,
    el('button', { type: 'button', class: 'danger', onclick: start, text: '撤回…' })), confirmBox);
  return box;
}

async function render(item) {
  const serialised = JSON.stringify(item);
  if (serialised === lastItem || retracting) return;
  lastItem = serialised;
  const alert = item.alert || {};
  const audit = await api('GET', `/v1/items/${encodeURIComponent(id)}/audit`).catch(() => ({ events: [] }));
  document.title = `${item.title} · Herald 发布控制台`;
  show('item',
    el('h2', { id: 'title', text: item.title }),
    el('p', {}, el('strong', { id: 'state', text: stateText(item.state) })),
    el('dl', {},
      field('类型', item.kind === 'alert' ? '海外安全提醒' : '信息发布'),
      field('分类', item.category), field('作者', item.author), field('提交时间', item.created_at),
      field('定时发布', item.publish_at), field('预警级别', LEVELS[alert.level] || alert.level),
      field('国家/地区', (alert.areas || []).map((a) => `${a.country} ${a.desc || ''}`).join('；')),
      field('有效期至', alert.expires), field('领事保护热线', alert.hotline),
      field('链接', item.link),
      field('审核', `${(item.approvals || []).filter((a) => a.decision === 'approve').length} / ${item.approvals_required}`)),
    el('section', { 'aria-label': '正文' }, el('p', { class: 'wrap', text: item.summary || '' }), el('p', { class: 'wrap', text: item.body })),
    item.state === 'pending_review' ? reviewControls(s, item, refresh) : null,
    deliveriesTable(item),
    retractPanel(item),
    el('section', { 'aria-labelledby': 'audit-title' }, el('h2', { id: 'audit-title', text: '审计记录' }),
      el('ol', { class: 'audit' }, audit.events.map((e) => el('li', {},
        el('time', { text: e.at }), ` ${e.event} · ${e.who || ''}${e.channel ? ` · ${channelText(e.channel)}` : ''}${e.comment ? ` · ${e.comment}` : ''}${e.reason ? ` · ${e.reason}` : ''}`)))));
}

async function refresh() {
  try {
    await render(await api('GET', `/v1/items/${encodeURIComponent(id)}`));
  } catch (error) {
    showError('message', error);
  }
}

function poll() {
  document.getElementById('live').textContent = '每 2 秒刷新';
  setInterval(refresh, 2000);
}

function live() {
  if (!('EventSource' in window)) { poll(); return; }
  const source = new EventSource(`/v1/items/${encodeURIComponent(id)}/events`);
  let opened = false;
  source.addEventListener('open', () => { opened = true; document.getElementById('live').textContent = '实时更新'; });
  source.addEventListener('item', (event) => { render(JSON.parse(event.data)).catch((e) => showError('message', e)); });
  source.addEventListener('error', () => {
    // A stream that never opened (404, or no such route yet) is not retried: poll instead. One
    // that dropped later is reconnected by EventSource itself.
    if (!opened) { source.close(); poll(); }
  });
}

s = await layout('');
await refresh();
live();
