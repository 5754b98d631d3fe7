// The header every page shares: navigation by role, who is signed in, sign-out.
import { session, hasRole, signOut } from './api.js';
import { el, show } from './dom.js';

export async function layout(active) {
  const s = await session();
  const links = [
    ['index.html', '审核与稿件', true],
    ['compose.html', '撰写', hasRole(s, 'drafter', 'duty_officer', 'publisher')],
    ['dead.html', '死信', hasRole(s, 'admin', 'duty_officer')],
    ['report.html', '统计与报告', hasRole(s, 'compiler', 'admin')],
  ];
  show('nav',
    el('ul', {},
      links.filter(([, , allowed]) => allowed).map(([href, label]) =>
        el('li', {}, el('a', { href, 'aria-current': href === active ? 'page' : null, text: label })))),
    el('span', { class: 'who', text: `${s.user}（${s.roles.join('、')}）` }),
    el('button', { type: 'button', onclick: () => signOut(), text: '退出' }));
  return s;
}

export function showError(id, error) {
  show(id, el('p', { class: 'error', role: 'alert', text: error.message || String(error) }));
}
