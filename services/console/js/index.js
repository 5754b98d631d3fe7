import { api } from './api.js';
import { layout, showError } from './layout.js';
import { el, show, stateText } from './dom.js';
import { reviewControls } from './review.js';

const KIND = { alert: '海外安全提醒', publication: '信息发布' };

function itemLink(item) {
  return el('a', { href: `item.html?id=${encodeURIComponent(item.id)}`, text: item.title });
}

async function render(s) {
  try {
    const pending = await api('GET', '/v1/items?state=pending_review&limit=100');
    const queue = pending.items.slice().sort((a, b) =>
      (a.kind === 'alert' ? 0 : 1) - (b.kind === 'alert' ? 0 : 1) || a.created_at.localeCompare(b.created_at));
    show('queue', queue.length === 0 ? el('p', { class: 'muted', text: '没有待审核的稿件。' }) :
      el('ul', { class: 'cards' }, queue.map((item) => el('li', { class: item.kind === 'alert' ? 'card alert' : 'card' },
        el('h3', {}, itemLink(item)),
        el('p', { class: 'muted', text: `${KIND[item.kind] || item.kind} · 作者 ${item.author} · 提交于 ${item.created_at}` }),
        reviewControls(s, item, null)))));
    const recent = await api('GET', '/v1/items?limit=20');
    show('recent', el('table', {},
      el('thead', {}, el('tr', {}, ['标题', '类型', '状态', '作者', '提交时间'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, recent.items.map((item) => el('tr', {},
        el('td', {}, itemLink(item)), el('td', { text: KIND[item.kind] || item.kind }),
        el('td', { text: stateText(item.state) }), el('td', { text: item.author }),
        el('td', { text: item.created_at }))))));
  } catch (error) {
    showError('message', error);
  }
}

render(await layout('index.html'));
