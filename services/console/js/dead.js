import { api, hasRole } from './api.js';
import { layout, showError } from './layout.js';
import { el, show, channelText } from './dom.js';

async function render(s) {
  try {
    const dead = await api('GET', '/v1/deliveries/dead?limit=100');
    if (dead.deliveries.length === 0) {
      show('dead', el('p', { class: 'muted', text: '没有死信。' }));
      return;
    }
    show('dead', el('ul', { class: 'cards' }, dead.deliveries.map((d) => {
      const status = el('span', { role: 'status' });
      return el('li', { class: 'card' },
        el('h2', {}, channelText(d.channel), ' · ', d.item_id ? el('a', { href: `item.html?id=${encodeURIComponent(d.item_id)}`, text: d.id }) : d.id),
        el('p', { class: 'muted', text: `进入死信：${d.dead_at} · 尝试 ${d.attempts ?? '—'} 次` }),
        // The platform's whole message: an officer decides from it whether a replay can work.
        el('pre', { class: 'wrap', text: d.last_error ? `${d.last_error.code}\n${d.last_error.message}` : '（无错误信息）' }),
        hasRole(s, 'admin', 'duty_officer') ? el('button', { type: 'button', onclick: async () => {
          try {
            await api('POST', `/v1/deliveries/${encodeURIComponent(d.id)}/replay`);
            status.textContent = '已重新排队。';
          } catch (error) {
            status.textContent = `重放失败：${error.message}`;
          }
        }, text: '重放' }) : null, status);
    })));
  } catch (error) {
    showError('message', error);
  }
}

render(await layout('dead.html'));
